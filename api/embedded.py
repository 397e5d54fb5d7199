"""Embedded PostgreSQL 16 for development and tests (pgserver ships the server binaries as a wheel)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from persistence.db import ensure_database


def start_embedded(data_dir: Path, *, cleanup: str | None = "stop") -> tuple[Any, str]:
    """Starts (or reuses) the server in data_dir/pg; returns the handle and a postgresql:// URL.

    pgserver runs initdb as an unprivileged system user when we are root (initdb refuses root) and
    listens on a Unix socket only, so nothing on the network can reach a development database.
    """
    # pgserver keeps its lock file under XDG_RUNTIME_DIR, which CI and shells often leave unset.
    runtime = (data_dir / "run").resolve()
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    from pgserver.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=cleanup)
    socket_dir = server.get_postmaster_info().socket_dir
    return server, f"postgresql://postgres@/postgres?host={socket_dir}"


def with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


def ensure_database_sync(url: str, name: str) -> str:
    """Creates database `name` on the server of `url` if missing; returns its URL."""
    asyncio.run(ensure_database(url, name))
    return with_database(url, name)
