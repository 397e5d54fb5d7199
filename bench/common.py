"""What the benchmarks share: the plans, a run's state, the processes it starts and stops, the load generator
it drives (bench/load.py), and small statistics. Every process is stopped by its own id; all load goes to
127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.auth import mint
from api.config_files import Channel, load_channels
from bench.dataset import FULL, REDUCED, DataSet, Scale
from domain.model import Role

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU, LOAD_CPU = 0, 1


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    scale: Scale
    position_sizes: tuple[int, ...]  # applications of the extra data sets for the position query
    max_seconds: float
    rate_seconds: float
    warmup: float
    public_seconds: float
    ws_offers: int  # measured offers, idle and again under load
    fanout: int
    fanout_events: int
    sequential_requests: int
    overload_s: float  # the seat-event measurement under load stops after this long (an overloaded server)
    connections: int = 32
    write_seconds: float = 10.0  # the write floor's pgbench runs
    write_requests: int = 3000  # mutations in one run of the write path (each on its own input)
    wave_groups: int = 500  # capacity raises in one wave


PLANS = {
    "reduced": Plan("reduced", REDUCED, (10_000,), 15, 20, 3, 10, 100, 1_000, 5, 300, 40),
    "full": Plan(
        "full", FULL, (10_000, 1_000_000), 30, 60, 5, 20, 300, 5_000, 5, 500, 120, write_requests=8000, wave_groups=2000
    ),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinning() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def squash(sql: str) -> str:
    return " ".join(sql.split())


# --- processes ----------------------------------------------------------------------------------------


class Server:
    """A process this run started; stopped by its own pid (SIGINT, then SIGKILL after 15 s)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_file: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self._log = log_file.open("wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        if pinning():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, {SERVER_CPU})

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()

    def tail(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-3000:]


async def wait_ready(server: Server, port: int, path: str) -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        for _ in range(600):
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited during start-up:\n{server.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}{path}")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.tail()}")


@dataclass
class Run:
    plan: Plan
    tmp: Path
    server_url: str
    db_url: str = ""
    channels_file: Path = Path()
    policy_file: Path = Path()
    channels: dict[str, Channel] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    data: DataSet | None = None
    statements_file: Path | None = None

    def note_command(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((env or {}).items()))
        line = (prefix + " " if prefix else "") + shlex.join(argv)
        self.commands.append(line.replace(str(self.tmp), "$TMP").replace(str(ROOT) + "/", ""))

    def citizen(self, iin: str) -> str:
        return mint(self.channels["bench-bank"], Role.CITIZEN, iin)

    def staff(self, kindergarten: str) -> str:
        return mint(self.channels["bench-akimat"], Role.KINDERGARTEN_STAFF, "staff-1", kindergarten=kindergarten)

    def ministry(self, n: int = 1) -> str:
        return mint(self.channels["bench-ministry"], Role.MINISTRY, f"analyst-{n}")

    def operator(self, region: str) -> str:
        """An operator of the whole region."""
        return mint(self.channels["bench-akimat"], Role.AKIMAT_OPERATOR, "operator-1", region=region)


def write_config(run: Run) -> None:
    """A production channels file (nothing marked development) and a policy file with the national defaults,
    under which the chosen groups can make offers."""
    channels: list[dict[str, Any]] = [
        {"id": "bench-bank", "kind": "BANK", "roles": ["citizen"]},
        {"id": "bench-akimat", "kind": "AKIMAT", "roles": ["akimat_operator", "kindergarten_staff"]},
        {"id": "bench-ministry", "kind": "MINISTRY", "roles": ["ministry"]},
    ]
    for c in channels:
        c["keys"] = [{"kid": "bench-1", "algorithm": "HS256", "secret": secrets.token_hex(32)}]
    run.channels_file = run.tmp / "channels.json"
    run.channels_file.write_text(json.dumps(channels, indent=2), encoding="utf-8")
    run.policy_file = run.tmp / "policy.json"
    run.policy_file.write_text(
        json.dumps({"default": {"minAdmissionAgeMonths": 24, "responseWindow": "2WD", "contractWindow": "5WD"}}),
        encoding="utf-8",
    )
    run.channels = {c.id: c for c in load_channels(run.channels_file)}


def kezek_env(run: Run) -> dict[str, str]:
    return {
        "KEZEK_PROFILE": "production",
        "KEZEK_DATABASE_URL": run.db_url,
        "KEZEK_CHANNELS_FILE": str(run.channels_file),
        "KEZEK_POLICY_FILE": str(run.policy_file),
        "KEZEK_LOG_LEVEL": "WARNING",
        # The bench's parents each send a few requests a second; the abuse bounds stay on, set high.
        "KEZEK_RATE_PERSON_PER_SECOND": "100000",
        "KEZEK_RATE_PERSON_BURST": "100000",
        "KEZEK_RATE_CHANNEL_PER_SECOND": "1000000",
        "KEZEK_RATE_CHANNEL_BURST": "1000000",
        "KEZEK_RATE_PUBLIC_PER_SECOND": "1000000",
        "KEZEK_RATE_PUBLIC_BURST": "1000000",
    }


def start_kezek(run: Run, port: int, profile: Path | None = None) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    env.update(kezek_env(run))
    script = Path(sys.executable).parent / "kezek"
    if profile is not None:
        argv = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "api.cli"]
    else:
        argv = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-worker"]
    run.note_command(argv, kezek_env(run) | {"KEZEK_DATABASE_URL": "<the bench database>"})
    return Server("kezek serve", argv, env, run.tmp / f"kezek-{port}.log")


def start_bare(run: Run, port: int) -> Server:
    argv = [sys.executable, "-m", "bench.bare", "--port", str(port), "--database-url", run.db_url]
    argv += ["--channels", str(run.channels_file), "--policy", str(run.policy_file)]
    if run.statements_file is not None:
        argv += ["--statements", str(run.statements_file)]
    run.note_command([*argv[:6], "<the bench database>", *argv[7:]])
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    return Server("bare endpoint", argv, env, run.tmp / "bare.log")


async def run_load(
    run: Run, port: int, spec: dict[str, Any], name: str, *, duration: float, warmup: float | None = None, **opts: Any
) -> dict[str, Any]:
    """start_load (mode, rate, connections as there), then its result."""
    proc = await start_load(run, port, spec, name, duration=duration, warmup=warmup, **opts)
    return await finish_load(proc, limit=duration + (warmup or run.plan.warmup) + 60)


async def start_load(
    run: Run,
    port: int,
    spec: dict[str, Any],
    name: str,
    *,
    mode: str,
    duration: float,
    rate: float = 100.0,
    connections: int | None = None,
    warmup: float | None = None,
    timeline: bool = False,
) -> asyncio.subprocess.Process:
    path = run.tmp / f"requests-{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    argv = [sys.executable, "-m", "bench.load", "--port", str(port), "--requests", str(path), "--mode", mode]
    argv += ["--duration", str(duration), "--warmup", str(run.plan.warmup if warmup is None else warmup)]
    argv += ["--connections", str(connections or run.plan.connections)]
    if mode == "rate":
        argv += ["--rate", str(rate)] + (["--timeline"] if timeline else [])
    if pinning():
        argv += ["--cpu", str(LOAD_CPU)]
    run.note_command(argv)
    return await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish_load(proc: asyncio.subprocess.Process, limit: float, interrupt: bool = False) -> dict[str, Any]:
    if interrupt and proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("the load generator did not finish in time") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {err.decode(errors='replace')[-2000:]}")
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


@contextlib.asynccontextmanager
async def in_process(run: Run, clock: Any = None) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    from api.app import create_app
    from api.container import build_container
    from api.settings import Settings

    settings = Settings(
        profile="production",  # type: ignore[arg-type]
        database_url=run.db_url,
        channels_file=run.channels_file,
        policy_file=run.policy_file,
        log_level="WARNING",
        rate_person_per_second=100000,
        rate_person_burst=100000,
        rate_channel_per_second=1000000,
        rate_channel_burst=1000000,
    )
    container = build_container(settings, run.db_url, clock=clock)
    app = create_app(container)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kezek") as client:
            yield client, container
    finally:
        await container.aclose()
