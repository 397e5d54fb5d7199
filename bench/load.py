"""HTTP/1.1 load from its own process: raw asyncio sockets, keep-alive, one request template per token.

Why our own client: the status query needs a different parent's token on (nearly) every request, latencies
must be measured from the *scheduled* send time in fixed-rate mode (no coordinated omission), the output must
be machine-readable, and nothing may be installed beyond the project's lock file. A raw-socket client costs a
few tens of microseconds a request, far below what the servers under test spend.

    python -m bench.load --port 8000 --requests FILE --mode rate --rate 100 --duration 20 [--cpu 1]
    python -m bench.load --port 8000 --requests FILE --mode max --connections 16 --duration 15
    python -m bench.load --port 8000 --requests FILE --mode once --connections 8

FILE is JSON: {"path": "/graphql", "bodies": [str, ...], "tokens": [str, ...] | null}; request i sends
bodies[i % len] with tokens[i % len]. Prints one JSON object with the counts and latency percentiles (ms).
Only 127.0.0.1 is ever targeted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def build_requests(port: int, spec: dict[str, Any]) -> list[bytes]:
    path = str(spec.get("path", "/graphql"))
    bodies = [str(b).encode() for b in spec["bodies"]]
    tokens = spec.get("tokens") or [None]
    n = max(len(bodies), len(tokens))
    out = []
    for i in range(n):
        body = bodies[i % len(bodies)]
        token = tokens[i % len(tokens)]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        out.append(head.encode() + b"\r\n" + body)
    return out


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, keep-alive) of one request."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            return status, body, False
        return status, body, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    errors: int = 0
    user_errors: int = 0  # a mutation's payload `errors` (expected refusals), apart from failed requests
    samples: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    sent_at: list[float] = field(default_factory=list)  # rate mode: each measured request's due time

    def record(self, status: int, body: bytes, latency: float, measured: bool) -> None:
        if not measured:
            return
        self.latencies.append(latency)
        ok, refused = status == 200, False
        if ok and b'"errors"' in body:
            answer = json.loads(body)
            ok = "errors" not in answer
            payloads = (answer.get("data") or {}).values()
            refused = ok and any(isinstance(p, dict) and p.get("errors") for p in payloads)
        if refused:
            self.user_errors += 1
        if not ok or refused:
            self.errors += not ok
            if len(self.samples) < 3:
                self.samples.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")

    def failed(self, exc: BaseException, measured: bool) -> None:
        if measured:
            self.errors += 1
            if len(self.samples) < 3:
                self.samples.append(f"{type(exc).__name__}: {exc}")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[k]


def summary(stats: Stats, mode: str, elapsed: float, extra: dict[str, Any]) -> dict[str, Any]:
    ms = [x * 1000 for x in stats.latencies]
    return {
        "mode": mode,
        "completed": len(ms),
        "errors": stats.errors,
        "user_errors": stats.user_errors,
        "error_samples": stats.samples,
        "seconds": round(elapsed, 3),
        "throughput": round(len(ms) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
        **extra,
    }


async def run_max(
    port: int, requests: list[bytes], connections: int, duration: float, warmup: float, stop: asyncio.Event
) -> dict[str, Any]:
    """Closed loop: each connection sends its next request as soon as the previous answer is read."""
    stats = Stats()
    counter = iter(range(10**12))
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration

    async def worker() -> None:
        conn = await Connection.open(port)
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                try:
                    status, body, keep = await conn.exchange(requests[next(counter) % len(requests)])
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    stats.failed(exc, t0 >= measure_from)
                    conn.close()
                    conn = await Connection.open(port)
                    continue
                t1 = time.perf_counter()
                stats.record(status, body, t1 - t0, t0 >= measure_from and t1 <= end)
                if not keep:
                    conn.close()
                    conn = await Connection.open(port)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = min(time.perf_counter(), end) - measure_from
    return summary(stats, "max", elapsed, {"connections": connections})


async def run_once(port: int, requests: list[bytes], connections: int, stop: asyncio.Event) -> dict[str, Any]:
    """Each request exactly once, from `connections` connections in a closed loop: a batch (a wave of capacity
    raises) as fast as the server takes it."""
    stats = Stats()
    pending = iter(requests)
    start = time.perf_counter()

    async def worker() -> None:
        conn = await Connection.open(port)
        try:
            for request in pending:
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    status, body, keep = await conn.exchange(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    stats.failed(exc, True)
                    conn.close()
                    conn = await Connection.open(port)
                    continue
                stats.record(status, body, time.perf_counter() - t0, True)
                if not keep:
                    conn.close()
                    conn = await Connection.open(port)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return summary(stats, "once", elapsed, {"connections": connections, "requests": len(requests)})


async def run_rate(
    port: int,
    requests: list[bytes],
    rate: float,
    duration: float,
    warmup: float,
    max_connections: int,
    stop: asyncio.Event,
    timeline: bool = False,
) -> dict[str, Any]:
    """Open loop at a fixed rate: request i is due at start + i/rate and its latency counts from then, so a
    slow server cannot slow the load down (no coordinated omission). `timeline`: the result lists each
    measured request as [due, latency in ms], its due time on the system's monotonic clock (`time.perf_counter`
    of any process on this machine), so that a caller can read the latencies of a stretch of its own."""
    stats = Stats()
    idle: list[Connection] = []
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration
    late = 0

    async def one(i: int, due: float) -> None:
        nonlocal opened
        async with slots:
            reused = bool(idle)
            if idle:
                conn = idle.pop()
            else:
                conn = await Connection.open(port)
                opened += 1
            try:
                try:
                    status, body, keep = await conn.exchange(requests[i % len(requests)])
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                        raise
                    # The server closed this idle keep-alive connection (uvicorn: after 5 s): reconnect, once.
                    conn.close()
                    conn = await Connection.open(port)
                    opened += 1
                    status, body, keep = await conn.exchange(requests[i % len(requests)])
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn.close()
                stats.failed(exc, due >= measure_from)
                return
            t1 = time.perf_counter()
            stats.record(status, body, t1 - due, due >= measure_from)
            if due >= measure_from:
                stats.sent_at.append(due)
            if keep:
                idle.append(conn)
            else:
                conn.close()

    i = 0
    while not stop.is_set():
        due = start + i / rate
        if due >= end:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:  # what is in flight may finish; an overloaded server's backlog is dropped after 10 s
        await asyncio.wait(tasks, timeout=10)
    for conn in idle:
        conn.close()
    return summary(
        stats,
        "rate",
        min(time.perf_counter(), end) - measure_from,
        {
            "rate": rate,
            "connections_opened": opened,
            "scheduled_late": late,
            **(
                {"timeline": [[t, x * 1000] for t, x in zip(stats.sent_at, stats.latencies, strict=True)]}
                if timeline
                else {}
            ),
        },
    )


async def main_async(args: argparse.Namespace, requests: list[bytes]) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.mode == "max":
        return await run_max(args.port, requests, args.connections, args.duration, args.warmup, stop)
    if args.mode == "once":
        return await run_once(args.port, requests, args.connections, stop)
    return await run_rate(
        args.port, requests, args.rate, args.duration, args.warmup, args.connections, stop, timeline=args.timeline
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description="HTTP load on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", required=True, help="JSON file: path, bodies, tokens")
    parser.add_argument("--mode", choices=["rate", "max", "once"], default="rate")
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second (rate mode)")
    parser.add_argument("--connections", type=int, default=16, help="connections (max mode) or the cap (rate)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument("--timeline", action="store_true", help="rate mode: list each request's due time and latency")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 < args.rate <= 20_000 or not 0 < args.connections <= 512:
        parser.error("duration, rate and connections are bounded (600 s, 20,000/s, 512)")
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    spec = json.loads(Path(args.requests).read_text(encoding="utf-8"))
    result = asyncio.run(main_async(args, build_requests(args.port, spec)))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
