"""Runs a multi-statement SQL script in a migration (asyncpg prepares single statements only)."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(sql: str) -> None:
    # The migration runs inside SQLAlchemy's greenlet bridge, so the raw asyncpg call can be awaited here.
    driver = op.get_bind().connection.driver_connection
    await_only(driver.execute(sql))  # type: ignore[union-attr]
