"""Embedded PostgreSQL 16 for development and tests.

The server binaries come from the `pgserver` wheel; the lifecycle is ours: pgserver's own handle
bookkeeping never stops a server again once one process holding it died uncleanly, so we run initdb and
pg_ctl directly and stop only a server this process started.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
import subprocess
import warnings
from pathlib import Path

from persistence.db import ensure_database, with_database

SYSTEM_USER = "pgserver"  # initdb refuses root: as root the server runs as this unprivileged user


class EmbeddedServer:
    def __init__(self, pgdata: Path, owned: bool, user: str | None) -> None:
        self.pgdata = pgdata
        self.owned = owned
        self._user = user

    def cleanup(self) -> None:
        """Stops the server if this process started it (idempotent)."""
        if self.owned:
            self.owned = False
            _pg_ctl(["-D", str(self.pgdata), "-m", "fast", "-w", "stop"], self._user, check=False)


def _bin_path() -> Path:
    # Importing pgserver warns about XDG_RUNTIME_DIR for a lock file we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _bin(name: str) -> str:
    return str(_bin_path() / name)


def _run(args: list[str], user: str | None, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
        args,
        user=user,
        check=check,
        capture_output=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


def _pg_ctl(args: list[str], user: str | None, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([_bin("pg_ctl"), *args], user, check=check)


def _prepare_for(user: str, pgdata: Path) -> None:
    """The unprivileged user must reach the binaries and own the data directory."""
    POSTGRES_BIN_PATH = _bin_path()
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(user)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | readable)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def start_embedded(data_dir: Path, *, durable: bool = False) -> tuple[EmbeddedServer, str]:
    """Starts (or reuses) the server in data_dir/pg; returns its handle and a postgresql:// URL.

    It listens on a Unix socket in its data directory only, so nothing on the network can reach it. For
    development and tests it does not wait for the disk at commit (fsync off); `durable` (the benchmarks)
    commits as a production server does.
    """
    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    user = SYSTEM_USER if os.geteuid() == 0 else None
    if user is not None:
        _prepare_for(user, pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _run(
            [
                _bin("initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--lc-collate=C",
                "--lc-ctype=C.UTF-8",
            ],
            user,
        )
    owned = False
    if _pg_ctl(["-D", str(pgdata), "status"], user, check=False).returncode != 0:
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        _pg_ctl(
            [
                "-D",
                str(pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(pgdata / "server.log"),
                "-o",
                f"-h '' -k {pgdata} -c max_connections=300"
                + ("" if durable else " -c fsync=off -c synchronous_commit=off"),
                "start",
            ],
            user,
        )
        owned = True
    return EmbeddedServer(pgdata, owned, user), f"postgresql://postgres@/postgres?host={pgdata}"


def ensure_database_sync(url: str, name: str) -> str:
    """Creates database `name` on the server of `url` if missing; returns its URL."""
    asyncio.run(ensure_database(url, name))
    return with_database(url, name)
