"""GraphiQL for the development profile, with its assets served by Kezek itself (no CDN, works offline).

The files are npm's, unchanged, in api/static/graphiql/ (its README.md says which and how to update them);
`page()` is the HTML that loads them from IDE_PATH, and `routes()` serves them. The production profile mounts
neither, so there the asset URLs answer 404.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).parent / "static" / "graphiql"
IDE_PATH = "/graphql/ide"
ASSETS = {
    "react.production.min.js": "text/javascript",
    "react-dom.production.min.js": "text/javascript",
    "graphiql.min.js": "text/javascript",
    "graphiql.min.css": "text/css",
    "plugin-explorer.umd.js": "text/javascript",
    "plugin-explorer.css": "text/css",
}


@cache
def page() -> str:
    """GraphiQL's HTML, every asset at a local URL under IDE_PATH."""
    return (STATIC / "page.html").read_text(encoding="utf-8").replace("{{ide}}", IDE_PATH)


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = ASSETS.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC / name, media_type=f"{media_type}; charset=utf-8", headers={"Cache-Control": "no-cache"})


def routes() -> list[Route]:
    """The asset routes, for the development profile's app only."""
    return [Route(IDE_PATH + "/{name}", _asset, methods=["GET", "HEAD"])]
