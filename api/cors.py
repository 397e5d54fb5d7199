"""Browsers (docs/configuration.md, docs/decisions.md): CORS answers the web origins that the channels file lists.

An origin is allowed when any channel lists it. A preflight carries no token, so an origin cannot be held to
the channel of the token that follows it; the token is checked on the request itself, as for any client.
Allowed origins get the CORS headers on preflights (OPTIONS) and actual requests, and may open a WebSocket;
any other origin gets none (a preflight is refused with 400, a WebSocket handshake with 403), so a browser
does not let its page read Kezek's answers. No cookies are used: credentials are never allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api.config_files import Channel

# Request headers a browser app may send beyond the safelisted ones (Accept, Accept-Language, …).
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Apollographql-Client-Name",
    "Apollographql-Client-Version",
    "X-Apollo-Operation-Name",
    "Apollo-Require-Preflight",
)
EXPOSED_HEADERS = ("Retry-After",)  # so that a page can wait as a 429 tells it to
MAX_AGE = 600  # seconds a browser may keep a preflight's answer


def allowed_origins(channels: Iterable[Channel]) -> list[str]:
    return sorted({origin for channel in channels for origin in channel.origins})


def cors(origins: Iterable[str]) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=("GET", "POST"),
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=MAX_AGE,
    )
