"""Engine, URLs, migrations and readiness."""

from __future__ import annotations

import functools
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Operators write plain postgresql:// URLs (docs/api.md §2); SQLAlchemy wants the driver named."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("database URL must start with postgresql://")
    return "postgresql+asyncpg://" + rest


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"server_settings": {"application_name": "kezek", "timezone": "UTC"}},
    )


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Alembic is the only way the schema is made (docs/quality.md §1). Runs its own event loop: call off-loop."""
    command.upgrade(_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("postgresql://x@y/z")).get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code's migrations know."""
    return frozenset(r.revision for r in ScriptDirectory.from_config(_config("postgresql://x@y/z")).walk_revisions())


def asyncpg_params(url: str) -> tuple[str, str | None]:
    """(dsn, socket directory) for a raw asyncpg connection; the host may come as ?host=/path."""
    base, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return base.replace("postgresql+asyncpg://", "postgresql://"), params.get("host")


async def raw_connect(url: str) -> asyncpg.Connection:
    dsn, host = asyncpg_params(url)
    return await (asyncpg.connect(dsn, host=host) if host else asyncpg.connect(dsn))


def with_database(url: str, name: str) -> str:
    """The URL of database `name` on the server of `url`."""
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


async def drop_database(url: str, name: str) -> None:
    conn = await raw_connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def recreate_database(url: str, name: str) -> str:
    """Database `name` on the server of `url`, dropped first if it exists; returns its URL."""
    conn = await raw_connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


class DatabaseInUse(Exception):
    """The database has other sessions: it is not dropped under them."""


def database_name(url: str) -> str:
    return url.partition("?")[0].rsplit("/", 1)[1]


async def recreate_unused_database(url: str) -> str:
    """The database of `url` dropped and created empty, from the server's `postgres` database; refused with
    DatabaseInUse while any other session is connected to it (a server still running on it)."""
    name = database_name(url)
    conn = await raw_connect(with_database(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    except asyncpg.ObjectInUseError as exc:
        raise DatabaseInUse(name) from exc
    else:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url


async def ensure_database(url: str, name: str) -> None:
    """Creates database `name` on the server of `url` when it does not exist yet."""
    conn = await raw_connect(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def ready(engine: AsyncEngine) -> tuple[bool, str]:
    try:
        async with engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:  # any failure means not ready; the reason goes to the probe
        return False, f"database unreachable: {type(exc).__name__}"
    head = head_revision()
    if current == head:
        return True, "ok"
    if current is not None and current not in known_revisions():
        # A revision this code does not know is a later one: migrations are additive, so the code from before them
        # serves on while the new code rolls out (docs/operations.md "Upgrades").
        return True, f"ok: migrations at {current}, ahead of this code's {head}"
    return False, f"migrations at {current}, head is {head}"
