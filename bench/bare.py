"""The baseline: a bare Starlette + asyncpg endpoint answering the status query and the public queue with the
same SQL as Kezek (the statements `bench.run` captures from the app, in the same order) and byte-identical JSON,
but without GraphQL parsing, validation and execution, SQLAlchemy or DataLoaders. Of the domain layer it runs only
the waiting estimate (domain/estimate.py through domain/usecases/estimates.py), on the standings statement's rows
read by persistence/estimates.py, and under the same policy file as the server (--policy).

It verifies the caller's HS256 token like the app does (one decode instead of three), runs the statements one
after another on one pooled connection and encodes the answer with the same json.dumps settings as Strawberry.

    python -m bench.bare --port 8001 --database-url URL --channels FILE [--policy FILE] [--statements FILE] [--cpu 0]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.config_files import load_policy
from api.container import SystemClock
from domain import estimate_texts
from domain.estimate import WaitEstimate
from domain.model import PriorityTier
from domain.usecases.estimates import Estimates
from graph.errors import accepted_language
from persistence.db import asyncpg_params
from persistence.estimates import STANDINGS_SQL, standing_from, standings_params
from persistence.pg import positional
from persistence.sql import KINDERGARTEN_COLUMNS, POSITIONS_SQL, STANDING, order_by

# The status query's statements by role, in the order the app runs them. `bench.run` captures the app's own
# statements in-process and passes them in (--statements), so both run the same SQL text; these defaults are
# hand-written copies for running the endpoint alone. Results are read by column name.
FAMILY = """SELECT p.children_refreshed_at AS at, ARRAY(SELECT r.child_iin FROM representations r
    WHERE r.representative_iin = p.iin ORDER BY 1) AS children
    FROM persons p WHERE p.iin = $1"""
PERSONS = "SELECT * FROM persons WHERE iin = ANY($1)"
APPLICATIONS = """SELECT a.*, COALESCE((SELECT json_agg(json_build_object(
        'application_id', c.application_id, 'rank', c.rank, 'kindergarten_id', c.kindergarten_id,
        'held_here', c.held_here, 'joined_at', c.joined_at, 'sibling_rank', c.sibling_rank)
        ORDER BY c.rank) FROM choices c WHERE c.application_id = a.id), '[]') AS choice_rows
    FROM applications a WHERE a.id IN (SELECT DISTINCT ON (child_iin) id FROM applications WHERE child_iin = ANY($1)
        ORDER BY child_iin, active DESC, id DESC)"""
OFFERS = "SELECT * FROM offers WHERE application_id = ANY($1) AND status IN ('PENDING','CONFIRMED')"
KINDERGARTENS = (
    f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code "
    "WHERE k.id = ANY($1)"
)
POSITIONS = POSITIONS_SQL.replace(":ids", "$1")
STANDINGS, STANDINGS_PARAMETERS = positional(STANDINGS_SQL)
DEFAULT_STATEMENTS = {
    "family": FAMILY,
    "persons": PERSONS,
    "applications": APPLICATIONS,
    "offers": OFFERS,
    "kindergartens": KINDERGARTENS,
    "positions": POSITIONS,
    "standings": STANDINGS,
}
# How a captured statement is recognised: every role must match exactly one statement, and nothing else may run.
ROLES = {
    "family": ("children_refreshed_at", "representations"),
    "persons": ("FROM persons WHERE iin = ANY",),
    "applications": ("json_agg", "FROM applications a"),
    "offers": ("FROM offers WHERE application_id = ANY",),
    "kindergartens": ("FROM kindergartens k JOIN districts d",),
    "positions": ("count(*) FROM choices o",),
    "standings": ("AS planned_seats",),
}


def classify(statements: list[str]) -> dict[str, str] | None:
    """The captured statements by role, or None when they are not exactly the roles above."""
    found: dict[str, str] = {}
    for sql in statements:
        flat = " ".join(sql.split())
        roles = [role for role, parts in ROLES.items() if all(p in flat for p in parts)]
        if len(roles) != 1 or roles[0] in found:
            return None
        found[roles[0]] = sql
    return found if set(found) == set(ROLES) else None


KINDERGARTEN = "SELECT id FROM kindergartens WHERE id = $1"
PUBLIC_QUEUE = f"""SELECT {order_by("c")}, a.number
    FROM choices c JOIN applications a ON a.id = c.application_id
    WHERE c.kindergarten_id = $1 AND c.birth_year = $2 AND c.language = $3 AND c.group_type = $4
      AND {STANDING.format(a="c")}
    ORDER BY {order_by("c")} LIMIT $5"""
TIERS = {t.rank: t.value for t in PriorityTier}


def encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def estimate_json(e: WaitEstimate, request: Request) -> dict[str, Any]:
    return {
        "earliest": e.earliest.isoformat() if e.earliest else None,
        "latest": e.latest.isoformat() if e.latest else None,
        "insufficientHistory": e.insufficient_history,
        "basis": estimate_texts.basis(e, accepted_language(request.headers.get("accept-language"))),
    }


def _error(message: str) -> Response:
    return Response(encode({"data": None, "errors": [{"message": message}]}), media_type="application/json")


class Bare:
    def __init__(
        self, database_url: str, secret: str, issuer: str, statements: dict[str, str], estimates: Estimates
    ) -> None:
        self.sql = statements
        self.estimates = estimates
        self.database_url = database_url
        self.secret = secret
        self.issuer = issuer
        self.pool: Any = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        dsn, host = asyncpg_params(self.database_url)
        self.pool = await asyncpg.create_pool(
            dsn, host=host, min_size=2, max_size=10, server_settings={"application_name": "bare", "timezone": "UTC"}
        )
        try:
            yield
        finally:
            await self.pool.close()

    def subject(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience="kezek",
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError:
            return None
        return str(claims["sub"]) if claims.get("role") == "citizen" else None

    async def status(self, request: Request) -> Response:
        parent = self.subject(request)
        await request.body()
        if parent is None:
            return _error("invalid token")
        sql = self.sql
        async with self.pool.acquire() as conn:
            family = await conn.fetchrow(sql["family"], parent)
            iins = list(family["children"]) if family else []
            persons = {r["iin"]: r for r in await conn.fetch(sql["persons"], iins)}
            apps = {r["child_iin"]: r for r in await conn.fetch(sql["applications"], iins)}
            # The children come from the caller's own representations: every application is theirs to see.
            visible = apps
            ids = [a["id"] for a in visible.values()]
            offers = {r["application_id"]: r for r in await conn.fetch(sql["offers"], ids)}
            choices = {a["id"]: json.loads(a["choice_rows"]) for a in visible.values()}
            kg_ids = sorted(
                {c["kindergarten_id"] for cs in choices.values() for c in cs}
                | {o["kindergarten_id"] for o in offers.values()}
            )
            kgs = {r["id"]: r for r in await conn.fetch(sql["kindergartens"], kg_ids)}
            positions = {
                (r["application_id"], r["kindergarten_id"]): r["position"]
                for r in await conn.fetch(sql["positions"], ids)
            }
            today = self.estimates.today()
            given = standings_params(ids, today)
            standings = {
                (r["application_id"], r["kindergarten_id"]): standing_from(r)
                for r in await conn.fetch(sql["standings"], *(given[n] for n in STANDINGS_PARAMETERS))
            }
        children = []
        for iin in iins:
            p = persons.get(iin)
            if p is None:
                continue
            a = visible.get(iin)
            application = None
            if a is not None:
                offer = offers.get(a["id"])
                application = {
                    "id": str(a["id"]),
                    "number": a["number"],
                    "status": a["status"],
                    "queueDate": a["queue_date"].isoformat(),
                    "tier": TIERS[a["tier_rank"]],
                    "choices": [
                        {
                            "rank": c["rank"],
                            "kindergarten": {
                                "id": str(c["kindergarten_id"]),
                                "nameKk": kgs[c["kindergarten_id"]]["name_kk"],
                                "nameRu": kgs[c["kindergarten_id"]]["name_ru"],
                            },
                            "position": positions.get((a["id"], c["kindergarten_id"])),
                            "estimate": estimate_json(
                                self.estimates.of(
                                    standings.get((a["id"], c["kindergarten_id"])),
                                    positions.get((a["id"], c["kindergarten_id"])),
                                    today,
                                ),
                                request,
                            ),
                        }
                        for c in sorted(choices[a["id"]], key=lambda c: c["rank"])
                    ],
                    "offer": None
                    if offer is None
                    else {
                        "id": str(offer["id"]),
                        "status": offer["status"],
                        "respondBy": offer["respond_by"].isoformat(),
                        "kindergarten": {
                            "id": str(offer["kindergarten_id"]),
                            "nameRu": kgs[offer["kindergarten_id"]]["name_ru"],
                        },
                    },
                }
            children.append(
                {
                    "iin": p["iin"],
                    "fullName": p["full_name"],
                    "birthDate": p["birth_date"].isoformat(),
                    "application": application,
                }
            )
        return Response(encode({"data": {"myChildren": children}}), media_type="application/json")

    async def public_queue(self, request: Request) -> Response:
        """The first page of a queue: the variables of bench/queries/public_queue.graphql."""
        variables = json.loads(await request.body())["variables"]
        kg, year, language = int(variables["kg"]), int(variables["by"]), str(variables["lang"])
        first = 20
        async with self.pool.acquire() as conn:
            if await conn.fetchval(KINDERGARTEN, kg) is None:
                return _error("kindergarten not found")
            rows = await conn.fetch(PUBLIC_QUEUE, kg, year, language, "GENERAL", first + 1)
        edges = []
        for i, r in enumerate(rows[:first]):
            queued: dt.datetime = r["queue_date"]
            edges.append(
                {
                    "cursor": cursor(
                        [i + 1, r["tier_rank"], r["sibling_rank"], queued.isoformat(), r["application_id"]]
                    ),
                    "node": {
                        "position": i + 1,
                        "applicationNumber": r["number"],
                        "birthYear": year,
                        "tier": TIERS[r["tier_rank"]],
                        "queueDate": queued.isoformat(),
                    },
                }
            )
        page = {"hasNextPage": len(rows) > first, "endCursor": edges[-1]["cursor"] if edges else None}
        return Response(
            encode({"data": {"publicQueue": {"edges": edges, "pageInfo": page}}}), media_type="application/json"
        )


def create(
    database_url: str,
    channels_file: Path,
    channel: str,
    statements: Path | None = None,
    policy_file: Path | None = None,
) -> Starlette:
    channels = json.loads(channels_file.read_text(encoding="utf-8"))
    entry = next(c for c in channels if c["id"] == channel)
    sql = DEFAULT_STATEMENTS
    if statements is not None:
        given = json.loads(statements.read_text(encoding="utf-8"))
        sql = {role: str(given[role]) for role in DEFAULT_STATEMENTS}
    estimates = Estimates(SystemClock(), load_policy(policy_file))
    bare = Bare(database_url, entry["keys"][0]["secret"], channel, sql, estimates)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/graphql", bare.status, methods=["POST"]),
            Route("/public-queue", bare.public_queue, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=bare.lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description="bare Starlette + asyncpg baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--channels", required=True, type=Path)
    parser.add_argument("--channel", default="bench-bank")
    parser.add_argument("--policy", type=Path, help="the server's policy file (national defaults without one)")
    parser.add_argument("--statements", type=Path, help="JSON: the status query's SQL by role (bench.run)")
    parser.add_argument("--cpu", type=int)
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    app = create(args.database_url, args.channels, args.channel, args.statements, args.policy)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
