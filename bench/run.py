"""The national-scale benchmarks of docs/quality.md §3, each figure beside its baseline, measured in one run.

    python -m bench.run --scale reduced      # `make bench`: 100,000 persons, 1,200 kindergartens, 30,000 applications
    python -m bench.run --scale full         # `make bench-full`: 1,000,000 / 12,000 / 300,000

It starts what it needs itself: an embedded PostgreSQL in a temporary directory (or the server of
KEZEK_BENCH_DATABASE_URL, where it creates its own databases), migrates, generates and loads the data set
(bench/dataset.py), then measures

  a. SQL statements per status query (bench/queries/my_children.graphql), 1 child against 3 children with
     4 choices each, counted in-process with listeners on the engine and the reader, and a CPU profile;
  b. status-query throughput and latency: one `kezek serve --workers 1 --no-worker` process (production
     profile) against the bare Starlette + asyncpg endpoint (bench/bare.py) running the same SQL, load from
     bench/load.py in its own process on the other core;
  c. the position count of the last child of the longest queue: EXPLAIN (ANALYZE, BUFFERS) and its time at
     10,000 applications and at the data set's size (and at 1,000,000 at full scale);
  d. publicQueue's first page at the longest queue over HTTP, against the bare endpoint;
  e. seat freed → offer committed (SMS in the outbox) → event at a WebSocket client, idle and under
     200 status queries a second;
  f. one vacancy event to N open subscriptions on the one process;
  g. the load time of the data set;

and writes bench/results/<date>-<scale>.md. Every load is bounded in count and time and aimed at 127.0.0.1;
every process it starts is stopped by its own id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench import bare, fairness, intake, writes, year
from bench.common import (
    LOAD_CPU,
    PLANS,
    ROOT,
    SERVER_CPU,
    Run,
    Server,
    finish_load,
    free_port,
    in_process,
    log,
    pct,
    pinning,
    run_load,
    squash,
    start_bare,
    start_kezek,
    start_load,
    wait_ready,
    write_config,
)
from bench.databases import STATUS_QUERY, Queue, build_database, last_in_queue, longest_queues, sample_parents
from bench.dataset import Scale
from bench.report import write_report
from domain.model import Role
from persistence.db import drop_database, raw_connect
from persistence.sql import POSITIONS_SQL

QUERIES = ROOT / "bench" / "queries"
RESULTS = ROOT / "bench" / "results"
PUBLIC_QUERY = (QUERIES / "public_queue.graphql").read_text(encoding="utf-8")
SET_CAPACITY = """mutation Capacity($g: ID!, $c: Int!) {
  setGroupCapacity(input: {groupId: $g, capacity: $c}) { group { id capacity freeSeats } errors { code message } }
}"""
VACANCIES_ONE = "subscription Seats { vacancyUpdates { kind freeSeats group { id } kindergarten { id } } }"
VACANCIES_MANY = """subscription Vacancies($region: String) {
  vacancyUpdates(regionCode: $region) { kind freeSeats cursor at kindergarten { id nameRu } group { id capacity } }
}"""
PROTOCOL = [Subprotocol("graphql-transport-ws")]


async def answer_shape(url: str, parents: list[str]) -> dict[str, float]:
    """How much a status answer holds for these parents: GraphQL's cost grows with the fields returned, the
    bare endpoint's hardly, so the throughput ratio depends on it."""
    conn = await raw_connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM representations WHERE representative_iin = ANY($1)) AS children,
                (SELECT count(*) FROM representations r JOIN applications a ON a.child_iin = r.child_iin AND a.active
                    JOIN choices c ON c.application_id = a.id WHERE r.representative_iin = ANY($1)) AS choices""",
            parents,
        )
    finally:
        await conn.close()
    assert row is not None
    n = max(len(parents), 1)
    return {"children": row["children"] / n, "choices": row["choices"] / n}


# --- (a) statements per status query, and a profile ---------------------------------------------------


async def status_query(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": STATUS_QUERY}, headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"status query failed: {response.status_code} {response.text[:500]}")
    assert isinstance(body, dict)
    return body


async def bench_statements(run: Run, parents: list[str]) -> None:
    assert run.data is not None
    out: dict[str, Any] = {}
    async with in_process(run) as (client, container):
        for label, parent in (
            ("1 child, 1 choice", run.data.solo_parent),
            ("3 children, 4 choices each", run.data.triple_parent),
        ):
            token = run.citizen(parent)
            await status_query(client, token)  # a family snapshot younger than a day: no registry refresh
            with container.statements() as statements:
                body = await status_query(client, token)
            children = body["data"]["myChildren"]
            shape = [len(c["application"]["choices"]) if c["application"] else 0 for c in children]
            out[label] = {"statements": len(statements), "children": len(children), "choices": shape}
            out["sql"] = [squash(s) for s in statements]
            out["raw_sql"] = list(statements)
        roles = bare.classify(out["raw_sql"])
        out["same_sql_as_bare"] = roles is not None
        if roles is not None:
            # The bare endpoint runs exactly these statements (by role, in its own fixed order).
            run.statements_file = run.tmp / "statements.json"
            run.statements_file.write_text(json.dumps(roles, indent=2), encoding="utf-8")
            out["order_matches_bare"] = list(roles) == list(bare.DEFAULT_STATEMENTS)
        else:
            out["order_matches_bare"] = False
        out["bare_statements"] = len(roles) if roles else len(bare.DEFAULT_STATEMENTS)
        log(
            f"(a) statements per status query: {out['1 child, 1 choice']['statements']} (1 child) and "
            f"{out['3 children, 4 choices each']['statements']} (3 children × 4 choices); the bare endpoint runs "
            f"{'the same statements' if roles else 'its own statements (the captured ones did not classify)'}"
        )

        # One request at a time in-process (no HTTP server, no load): the latency floor of the request path.
        tokens = [run.citizen(p) for p in parents[: run.plan.sequential_requests]]
        for t in tokens[:20]:
            await status_query(client, t)
        wall: list[float] = []
        cpu0 = time.process_time()
        for t in tokens:
            t0 = time.perf_counter()
            await status_query(client, t)
            wall.append((time.perf_counter() - t0) * 1000)
        out["sequential"] = {
            "requests": len(tokens),
            "p50_ms": pct(wall, 50),
            "p99_ms": pct(wall, 99),
            "cpu_ms": (time.process_time() - cpu0) * 1000 / len(tokens),
        }
    run.results["statements"] = out


CATEGORIES = [
    ("graphql-core: parse, validate, execute", ("/graphql/",)),
    ("Strawberry", ("/strawberry/",)),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("asyncpg", ("/asyncpg/",)),
    ("uvicorn (HTTP/1.1 on httptools, uvloop)", ("/uvicorn/", "/h11/", "/httptools/", "/uvloop/")),
    ("websockets", ("/websockets/",)),
    ("Starlette", ("/starlette/",)),
    ("PyJWT + cryptography", ("/jwt/", "/cryptography/")),
    ("Kezek code (api, graph, domain, persistence)", ("/api/", "/graph/", "/domain/", "/persistence/")),
    ("asyncio event loop", ("/asyncio/", "selectors.py")),
    ("json", ("/json/",)),
    ("logging", ("/logging/",)),
]


COUNTED_CALLS = [
    ("GraphQL documents parsed", "graphql/language/parser.py", "parse"),
    ("GraphQL documents validated", "graphql/validation/validate.py", "validate"),
    # Called once per release (synchronous: a coroutine would be counted again at each resumption).
    ("read-pool checkouts (asyncpg)", "asyncpg/pool.py", "_setup_inactive_callback"),
    ("token checks", "api/auth.py", "authenticate"),
]


def _category(filename: str, function: str) -> str:
    if filename == "~":  # C functions: named by what they belong to
        builtins: list[tuple[str, tuple[str, ...]]] = [
            ("waiting in epoll (idle)", ("select.epoll",)),
            ("socket I/O", ("_socket.socket", "'send'", "'recv'")),
            ("start-up (imports, compiling)", ("marshal", "builtins.compile", "builtins.exec", "_imp", "posix")),
            ("asyncpg", ("asyncpg",)),
            ("json", ("json", "encoder", "scanner")),
            ("asyncio event loop", ("_asyncio", "select", "_contextvars", "Context")),
            ("greenlet (SQLAlchemy's async bridge)", ("greenlet",)),
        ]
        for label, parts in builtins:
            if any(p in function for p in parts):
                return label
        return "C built-ins called by everything (getattr, isinstance, hash, __new__, ...)"
    if "<frozen importlib" in filename:
        return "start-up (imports, compiling)"
    for label, parts in CATEGORIES:
        if any(p in filename for p in parts):
            return label
    return "other Python"


def _totals(path: Path) -> dict[str, float]:
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, tottime, _, _) in raw.items():
        key = _category(filename, function)
        totals[key] = totals.get(key, 0.0) + tottime
    return totals


def server_profile(path: Path, label: str, startup: dict[str, float] | None) -> dict[str, Any]:
    """Own time by library from a cProfile of the whole server process, less what start-up alone costs
    (a profiled start and stop); time waiting in epoll is shown apart."""
    totals = _totals(path)
    for key, seconds in (startup or {}).items():
        totals[key] = max(0.0, totals.get(key, 0.0) - seconds)
    idle = totals.pop("waiting in epoll (idle)", 0.0)
    busy = sum(totals.values())
    ranked = sorted(((k, v) for k, v in totals.items() if v > 0), key=lambda kv: -kv[1])
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("tottime").print_stats(20)
    text = buffer.getvalue()
    text = text[text.find("   ncalls") :] if "   ncalls" in text else text
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    calls = {
        name: sum(v[1] for k, v in raw.items() if part in k[0] and k[2] == func) for name, part, func in COUNTED_CALLS
    }
    return {
        "label": label,
        "calls": calls,
        "busy_s": busy,
        "idle_s": idle,
        "categories": [(k, v, v / busy if busy else 0.0) for k, v in ranked],
        "summary": ", ".join(f"{k} {v / busy:.0%}" for k, v in ranked[:5]) if busy else "empty",
        "top": "\n".join(line.replace(str(ROOT) + "/", "").rstrip() for line in text.splitlines()[:26]),
    }


async def mutation_profile(run: Run, slots: list[Slot], n: int, warmup: int) -> dict[str, Any]:
    """setGroupCapacity's use case in-process (no HTTP, no GraphQL): time per call and per SQL statement, a
    statement's time running from its start to the next one's (its round trip and the Python work after it)."""
    from domain.model import Actor

    timings: list[tuple[str, float]] = []
    calls: list[float] = []
    async with in_process(run) as (_, container):
        for i in range(warmup + n):
            slot = next(s for s in slots if s.left > 0)
            slot.capacity += 1
            slot.left -= 1
            actor = Actor(Role.KINDERGARTEN_STAFF, "staff-1", "bench-akimat", kindergarten=slot.queue.external_id)
            starts: list[tuple[str, float]] = []
            with container.statements() as seen:
                container.services.reader.listeners.append(
                    lambda sql, starts=starts: starts.append((sql, time.perf_counter()))
                )
                try:
                    t0 = time.perf_counter()
                    await container.queue.set_group_capacity(actor, str(slot.queue.group_id), slot.capacity, "bench")
                    t1 = time.perf_counter()
                finally:
                    container.services.reader.listeners.pop()
            if i < warmup:
                continue
            calls.append(t1 - t0)
            assert len(starts) == len(seen)  # every statement went through the pools
            ends = [t for _, t in starts[1:]] + [t1]
            timings += [(squash(sql)[:100], end - begun) for (sql, begun), end in zip(starts, ends, strict=True)]
    by_statement: dict[str, list[float]] = {}
    for sql, seconds in timings:
        by_statement.setdefault(sql, []).append(seconds)
    sql_ms = sum(t for _, t in timings) * 1000 / n
    call_ms = sum(calls) * 1000 / n
    return {
        "calls": n,
        "ms_per_call": call_ms,
        "sql_ms_per_call": sql_ms,
        "statements_per_call": len(timings) / n,
        "statements": sorted(
            ((sql, len(ts) / n, sum(ts) * 1000 / n) for sql, ts in by_statement.items()), key=lambda x: -x[2]
        )[:15],
    }


# --- (c) position of one choice -----------------------------------------------------------------------


async def bench_position(url: str, label: str, applications: int) -> dict[str, Any]:
    q = (await longest_queues(url))[0]
    app_id, _, _ = await last_in_queue(url, q)
    sql = POSITIONS_SQL.replace(":ids", "$1::bigint[]")
    conn = await raw_connect(url)
    try:
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, [app_id]))
        stmt = await conn.prepare(sql)
        rows = await stmt.fetch([app_id])
        for _ in range(20):
            await stmt.fetch([app_id])
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            await stmt.fetch([app_id])
            times.append((time.perf_counter() - t0) * 1000)
        total = await conn.fetchval("SELECT count(*) FROM applications")
    finally:
        await conn.close()
    position = next(r["position"] for r in rows if r["kindergarten_id"] == q.kindergarten_id)
    execution = next((line for line in plan.splitlines() if line.startswith("Execution Time")), "")
    result = {
        "label": label,
        "applications": applications,
        "applications_total": int(total),
        "queue": f"kindergarten {q.kindergarten_id} ({q.external_id}), born {q.birth_year}, {q.language}, "
        f"{q.group_type}: {q.length} waiting",
        "queue_length": q.length,
        "position": position,
        "index_only": "Index Only Scan using choices_queue_order" in plan,
        "heap_fetches": [line.strip() for line in plan.splitlines() if "Heap Fetches" in line],
        "explain": plan,
        "execution": execution,
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
    }
    log(
        f"(c) position at {label}: #{position} of {q.length}, index-only {result['index_only']}, "
        f"p50 {result['p50_ms']:.3f} ms ({execution})"
    )
    return result


# --- (b), (d): HTTP benchmarks of both servers ---------------------------------------------------------


async def http_phase(
    run: Run, server: str, process: Server, port: int, tokens: list[str], public: dict[str, Any]
) -> dict[str, Any]:
    status_spec = {"path": "/graphql", "bodies": [json.dumps({"query": STATUS_QUERY})], "tokens": tokens}
    public_path = "/graphql" if server == "kezek" else "/public-queue"
    public_spec = {
        "path": public_path,
        "bodies": [json.dumps({"query": PUBLIC_QUERY, "variables": public})],
        "tokens": None,
    }
    plan = run.plan
    out: dict[str, Any] = {}
    cpu0, wall0 = process.cpu_seconds(), time.perf_counter()
    out["max"] = await run_load(run, port, status_spec, f"{server}-max", mode="max", duration=plan.max_seconds)
    busy = (process.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
    out["max"]["server_cpu"] = busy
    out["max"]["cpu_ms_per_request"] = busy * 1000 / out["max"]["throughput"] if out["max"]["throughput"] else None
    log(
        f"(b) {server}: {out['max']['throughput']} status queries/s at most "
        f"(p50 {out['max']['p50_ms']:.1f} ms, {out['max']['errors']} errors)"
    )
    out["rate"] = await run_load(
        run, port, status_spec, f"{server}-rate", mode="rate", rate=100, duration=plan.rate_seconds
    )
    log(
        f"(b) {server}: at 100/s p50 {out['rate']['p50_ms']:.1f} ms, p99 {out['rate']['p99_ms']:.1f} ms "
        f"({out['rate']['errors']} errors)"
    )
    half = round(out["max"]["throughput"] / 2)
    if server == "kezek" and 5 <= half < 100:
        out["rate_half"] = await run_load(
            run, port, status_spec, f"{server}-rate-half", mode="rate", rate=half, duration=plan.rate_seconds
        )
        log(
            f"(b) {server}: at {half}/s (half its maximum) p50 {out['rate_half']['p50_ms']:.1f} ms, "
            f"p99 {out['rate_half']['p99_ms']:.1f} ms"
        )
    out["public"] = await run_load(
        run, port, public_spec, f"{server}-public", mode="rate", rate=50, duration=plan.public_seconds, warmup=1
    )
    log(
        f"(d) {server}: publicQueue first page p50 {out['public']['p50_ms']:.1f} ms, "
        f"p99 {out['public']['p99_ms']:.1f} ms"
    )
    return out


async def sample_answers(port: int, path: str, bodies: Sequence[tuple[str | None, dict[str, Any]]]) -> list[Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        out = []
        for token, body in bodies:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(path, json=body, headers=headers)
            out.append((response.status_code, response.content))
        return out


# --- (e), (f): WebSocket benchmarks -------------------------------------------------------------------


async def ws_open(port: int, token: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=PROTOCOL, open_timeout=30, ping_interval=None, close_timeout=5
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    return ws


async def ws_settle(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "pong":
        pass


@dataclass
class Slot:
    queue: Queue
    capacity: int
    left: int


async def seat_events(
    run: Run, port: int, slots: list[Slot], n: int, label: str, limit_s: float = 300.0
) -> dict[str, Any]:
    """Raises a full group's capacity by one, n times (plus one unmeasured warm-up): the mutation frees a
    seat, the same transaction makes the offer, writes its SMS to the outbox and the feed event; the time
    runs from sending the mutation until the OFFER_MADE vacancy event arrives over the WebSocket."""
    ws = await ws_open(port, run.ministry())
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": VACANCIES_ONE}}))
    await ws_settle(ws)
    await asyncio.sleep(0.5)
    events: list[float] = []
    http_times: list[float] = []
    missed = 0
    started_at = dt.datetime.now(dt.UTC)
    stop_at = time.perf_counter() + limit_s
    try:
        # uvicorn closes a keep-alive connection idle for 5 s; the client lets go of it sooner, never racing it.
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
            i = 0
            while i <= n and time.perf_counter() < stop_at:
                slot = next((s for s in slots if s.left > 0), None)
                if slot is None:
                    raise RuntimeError("no queue left with children to offer seats to")
                slot.capacity += 1
                slot.left -= 1
                token = run.staff(slot.queue.external_id)
                body = {"query": SET_CAPACITY, "variables": {"g": str(slot.queue.group_id), "c": slot.capacity}}
                t0 = time.perf_counter()
                request = asyncio.create_task(
                    client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
                )
                arrived = await wait_offer(ws, slot.queue.group_id, within=5)
                response = await request
                t_http = time.perf_counter()
                payload = response.json()
                problem = payload.get("errors") or payload["data"]["setGroupCapacity"]["errors"]
                if problem:
                    raise RuntimeError(f"setGroupCapacity failed: {problem}")
                if arrived is None:
                    missed += 1
                    slot.left = 0  # nobody eligible left in this queue
                    continue
                if i > 0:
                    events.append((arrived - t0) * 1000)
                    http_times.append((t_http - t0) * 1000)
                i += 1
                await asyncio.sleep(0.02)
    finally:
        await ws.close()
    conn = await raw_connect(run.db_url)
    try:
        row = await conn.fetchrow(
            """SELECT count(*) AS offers, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM outbox m
                WHERE m.application_id = o.application_id AND m.kind = 'OFFER_MADE' AND m.created_at = o.created_at))
                AS with_sms
            FROM offers o WHERE o.created_at >= $1""",
            started_at,
        )
    finally:
        await conn.close()
    assert row is not None
    result = {
        "label": label,
        "events": len(events),
        "p50_ms": pct(events, 50),
        "p99_ms": pct(events, 99),
        "max_ms": max(events),
        "mutation_p50_ms": pct(http_times, 50),
        "mutation_p99_ms": pct(http_times, 99),
        "offers": int(row["offers"]),
        "offers_with_sms_in_outbox": int(row["with_sms"]),
        "queues_without_candidates": missed,
        "slowest_ms": sorted(events)[-5:],
    }
    log(
        f"(e) {label}: seat freed → event p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
        f"({result['offers']} offers, {result['offers_with_sms_in_outbox']} with their SMS in the outbox)"
    )
    return result


async def wait_offer(ws: ClientConnection, group_id: int, within: float) -> float | None:
    deadline = time.perf_counter() + within
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            return None
        arrived = time.perf_counter()
        message = json.loads(raw)
        if message.get("type") != "next":
            continue
        data = (message.get("payload") or {}).get("data") or {}
        update = data.get("vacancyUpdates") or {}
        if update.get("kind") == "OFFER_MADE" and (update.get("group") or {}).get("id") == str(group_id):
            return arrived


async def fanout(run: Run, port: int, group: Queue, subscribers: int, events: int) -> dict[str, Any]:
    """`subscribers` vacancyUpdates subscriptions with the same document, variables and scope (ministry,
    one region), 20 to a connection (the default per-connection bound); one CAPACITY_CHANGED event at a time
    on a group nobody waits for; the time until every subscription has it."""
    per_connection = 20
    n_connections = (subscribers + per_connection - 1) // per_connection
    state: dict[str, Any] = {"marker": None, "times": [], "all": asyncio.Event()}
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []

    async def reader(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                marker = state["marker"]
                if marker is not None and marker in raw:
                    state["times"].append(time.perf_counter())
                    if len(state["times"]) >= subscribers:
                        state["all"].set()

    async def open_one(i: int) -> None:
        ws = await ws_open(port, run.ministry(i))
        count = min(per_connection, subscribers - i * per_connection)
        for k in range(count):
            payload = {"query": VACANCIES_MANY, "variables": {"region": group.region_code}}
            await ws.send(json.dumps({"id": str(k + 1), "type": "subscribe", "payload": payload}))
        await ws_settle(ws)
        connections.append(ws)

    capacity = group.capacity
    started = time.perf_counter()
    try:
        for batch in range(0, n_connections, 25):
            await asyncio.gather(*(open_one(i) for i in range(batch, min(batch + 25, n_connections))))
        readers.extend(asyncio.create_task(reader(ws)) for ws in connections)
        setup = time.perf_counter() - started
        token = run.staff(group.external_id)
        results = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for e in range(events + 1):  # the first one warms up (and proves every subscription is live)
                capacity += 1
                state["times"] = []
                state["all"] = asyncio.Event()
                state["marker"] = f'"kind":"CAPACITY_CHANGED","freeSeats":{capacity},'
                body = {"query": SET_CAPACITY, "variables": {"g": str(group.group_id), "c": capacity}}
                t0 = time.perf_counter()
                response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
                t_http = time.perf_counter()
                if response.json().get("errors"):
                    raise RuntimeError(f"setGroupCapacity failed: {response.text[:300]}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state["all"].wait(), t0 + (60 if e == 0 else 30) - time.perf_counter())
                times = list(state["times"])
                if e > 0:
                    results.append(
                        {
                            "delivered": len(times),
                            "first_ms": (min(times) - t0) * 1000 if times else None,
                            "all_s": (max(times) - t0) if len(times) >= subscribers else None,
                            "last_s": (max(times) - t0) if times else None,
                            "mutation_ms": (t_http - t0) * 1000,
                        }
                    )
                await asyncio.sleep(1.0)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(asyncio.wait_for(ws.close(), 10) for ws in connections), return_exceptions=True)
    complete = [r["all_s"] for r in results if r["all_s"] is not None]
    out = {
        "subscribers": subscribers,
        "connections": n_connections,
        "setup_s": setup,
        "events": results,
        "all_delivered_median_s": statistics.median(complete) if complete else None,
        "all_delivered_max_s": max(complete) if complete else None,
        "complete_events": len(complete),
    }
    log(
        f"(f) {subscribers} subscriptions: all delivered in median {out['all_delivered_median_s']} s "
        f"({len(complete)}/{len(results)} events complete)"
    )
    return out


# --- the run ------------------------------------------------------------------------------------------


def revision() -> str:
    """The commit measured, and any uncommitted changes outside bench/."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    changed = sorted({line[3:] for line in status if not line[3:].startswith("bench/")})
    return head + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def machine(server_version: str, settings: dict[str, str]) -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "commit": revision(),
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": model,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": server_version,
        "postgresql settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "pinning": f"servers on CPU {SERVER_CPU}, load generator and WebSocket clients on CPU {LOAD_CPU}"
        if pinning()
        else "none (one CPU)",
    }


async def server_info(url: str) -> tuple[str, dict[str, str]]:
    conn = await raw_connect(url)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        names = ["shared_buffers", "work_mem", "max_connections", "fsync", "synchronous_commit", "jit"]
        settings = {n: str(await conn.fetchval(f"SHOW {n}")) for n in names}
    finally:
        await conn.close()
    return version, settings


async def main_async(run: Run) -> None:
    plan = run.plan
    started = time.perf_counter()
    write_config(run)
    version, pg_settings = await server_info(run.server_url)
    run.results["machine"] = machine(version, pg_settings)

    # (g) the data set, and the smaller and larger ones for the position query
    run.db_url, run.data, report = await build_database(run.server_url, "kezek_bench", plan.scale)
    run.results["load"] = {
        "scale": plan.scale,
        "counts": run.data.counts(),
        "report": report,
        "generation_s": run.data.generation_seconds,
    }
    positions = [
        await bench_position(
            run.db_url, f"{plan.scale.applications:,} applications (the data set)", plan.scale.applications
        )
    ]
    for size in plan.position_sizes:
        name = f"kezek_bench_{size}"
        scale = Scale(
            persons=size * plan.scale.persons // plan.scale.applications,
            kindergartens=plan.scale.kindergartens,
            applications=size,
            seed=plan.scale.seed,
        )
        url, extra, extra_report = await build_database(run.server_url, name, scale)
        positions.append(await bench_position(url, f"{size:,} applications", size))
        run.results.setdefault("extra_loads", []).append((scale, extra.counts(), extra_report))
        del extra
        await drop_database(run.server_url, name)
    run.results["positions"] = sorted(positions, key=lambda p: p["applications"])

    longest = (await longest_queues(run.db_url))[0]
    run.results["longest"] = longest
    parents = await sample_parents(run.db_url, 2000, longest)
    tokens = [run.citizen(p) for p in parents]
    run.results["parents"] = len(parents)
    run.results["answer_shape"] = await answer_shape(run.db_url, parents)

    # (a) statements and the profile, in-process
    await bench_statements(run, parents)

    if pinning():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {LOAD_CPU})  # this process drives the WebSocket clients

    public = {"kg": str(longest.kindergarten_id), "by": longest.birth_year, "lang": longest.language}
    compare = [(t, {"query": STATUS_QUERY}) for t in tokens[:30]]

    # (b), (d) on the bare endpoint
    port = free_port()
    server = start_bare(run, port)
    try:
        await wait_ready(server, port, "/healthz")
        bare_answers = await sample_answers(port, "/graphql", compare)
        bare_answers += await sample_answers(
            port, "/public-queue", [(None, {"query": PUBLIC_QUERY, "variables": public})]
        )
        run.results["bare"] = await http_phase(run, "bare", server, port, tokens, public)
    finally:
        server.stop()

    # (b), (d), (e), (f) on one kezek process
    port = free_port()
    server = start_kezek(run, port)
    try:
        await wait_ready(server, port, "/readyz")
        kezek_answers = await sample_answers(port, "/graphql", compare)
        kezek_answers += await sample_answers(port, "/graphql", [(None, {"query": PUBLIC_QUERY, "variables": public})])
        same = [a == b for a, b in zip(kezek_answers, bare_answers, strict=True)]
        run.results["same_json"] = {"compared": len(same), "identical": sum(same)}
        log(f"JSON of kezek and the bare endpoint: {sum(same)} of {len(same)} answers byte-identical")
        run.results["kezek"] = await http_phase(run, "kezek", server, port, tokens, public)

        queues = await longest_queues(run.db_url, limit=400, years=(2021, 2023), steady=True)
        slots = [Slot(q, q.capacity, q.length // 2) for q in queues]
        events = [await seat_events(run, port, slots, plan.ws_offers, "idle")]
        status_spec = {"path": "/graphql", "bodies": [json.dumps({"query": STATUS_QUERY})], "tokens": tokens}
        sustained = round(run.results["kezek"]["max"]["throughput"] / 2)
        rates = [(sustained, f"under {sustained} status queries/s (half the measured maximum)")]
        rates = [r for r in rates if 5 <= r[0] < 200] + [(200, "under 200 status queries/s")]
        for rate, label in rates:
            load_proc = await start_load(
                run, port, status_spec, f"kezek-under-ws-{rate}", mode="rate", rate=rate, duration=600, warmup=0
            )
            try:
                await asyncio.sleep(3)
                loaded = await seat_events(run, port, slots, plan.ws_offers, label, limit_s=plan.overload_s)
            finally:
                background = await finish_load(load_proc, limit=90, interrupt=True)
            loaded["background"] = background
            loaded["background_rate"] = rate
            log(
                f"(e) background load: {background['throughput']} of {rate} status queries/s, "
                f"p99 {background['p99_ms']} ms"
            )
            events.append(loaded)
        run.results["events"] = events
        run.results["mutation_profile"] = await mutation_profile(run, slots, 10, warmup=3)

        fan_group = await empty_group(run.db_url)
        run.results["fanout"] = await fanout(run, port, fan_group, plan.fanout, plan.fanout_events)
    finally:
        server.stop()

    # (w) the write path: the floor, mutations from 16 parents, a wave of capacity raises, statements per call
    run.results["writes"] = await writes.measure(run, tokens, STATUS_QUERY)

    # (i) the national summer intake: every region's run drafted, then published, status load meanwhile
    run.results["intake"] = await intake.measure(run, tokens, STATUS_QUERY)

    # (j) the fairness report over the last 365 days, one region and the whole country, on what the runs wrote
    run.results["fairness"] = await fairness.measure(run)

    # (y) a simulated year of one region, Kezek beside the status quo, on a reduced data set of its own
    run.results["year"] = await year.measure(run, RESULTS, f"{dt.date.today().isoformat()}-{plan.name}-year")

    # Server-side CPU profiles (cProfile around the whole `kezek serve` process): status load, then fan-out.
    status_spec = {"path": "/graphql", "bodies": [json.dumps({"query": STATUS_QUERY})], "tokens": tokens}
    run.results["server_profiles"] = []
    startup: dict[str, float] | None = None
    for what in ("startup", "status", "fanout"):
        label = what
        port = free_port()
        output = run.tmp / f"kezek-{what}.prof"
        server = start_kezek(run, port, profile=output)
        try:
            await wait_ready(server, port, "/readyz")
            if what == "status":
                result = await run_load(run, port, status_spec, "kezek-profiled", mode="max", duration=10, warmup=2)
                label = f"status queries at maximum throughput for 10 s ({result['completed']} requests measured)"
            elif what == "fanout":
                await fanout(run, port, await empty_group(run.db_url), plan.fanout, 2)
                label = f"{plan.fanout:,} subscriptions opened, then 3 vacancy events delivered to all"
        finally:
            server.stop()
        if not output.exists():
            continue
        if what == "startup":
            startup = _totals(output)
        else:
            run.results["server_profiles"].append(server_profile(output, label, startup))
            log(f"server profile ({what}): {run.results['server_profiles'][-1]['summary']}")
    run.results["seconds"] = time.perf_counter() - started


async def empty_group(url: str) -> Queue:
    """A group for birth year 2020 (its children aged out: nobody waits), in the most populous region."""
    conn = await raw_connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT g.id, g.capacity, g.kindergarten_id, k.external_id, d.region_code FROM groups g
            JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE g.birth_year_from = 2020 AND g.enrolled = 0 AND g.held = 0
              AND NOT EXISTS (SELECT 1 FROM choices c WHERE c.kindergarten_id = g.kindergarten_id
                  AND c.birth_year = 2020 AND c.app_in_queue)
            ORDER BY d.region_code = '750000000' DESC, g.id LIMIT 1"""
        )
    finally:
        await conn.close()
    assert row is not None
    return Queue(
        row["kindergarten_id"],
        row["external_id"],
        row["region_code"],
        2020,
        "KK",
        "GENERAL",
        0,
        row["id"],
        row["capacity"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="Kezek's benchmarks (docs/quality.md §3)")
    parser.add_argument("--scale", choices=sorted(PLANS), default="reduced")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    args = parser.parse_args(argv)
    plan = PLANS[args.scale]
    tmp = Path(tempfile.mkdtemp(prefix="kezek-bench-"))
    external = os.environ.get("KEZEK_BENCH_DATABASE_URL")
    embedded = None
    if external:
        server_url = external
    else:
        from api.embedded import start_embedded

        embedded, server_url = start_embedded(tmp, durable=True)
    run = Run(plan=plan, tmp=tmp, server_url=server_url)
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    command = f"{shown} -m bench.run --scale {args.scale}"
    try:
        asyncio.run(main_async(run))
        path = write_report(run, command, RESULTS)
        log(f"report: {path.relative_to(ROOT)} (in {run.results['seconds']:.0f} s)")
    finally:
        if embedded is not None:
            embedded.cleanup()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")


if __name__ == "__main__":
    main()
