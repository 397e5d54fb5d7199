"""Upgrades (docs/operations.md "Upgrades"): `kezek migrate` runs before the new code, so the code from before a
migration keeps serving, and stays ready, on a database ahead of it; a database behind the code is not ready."""

from __future__ import annotations

from persistence.db import head_revision
from tests.conftest import Kezek


async def test_readyz_on_a_database_ahead_of_and_behind_the_code(kezek: Kezek) -> None:
    head = head_revision()
    assert (await kezek.client.get("/readyz")).json() == {"status": "ok", "reason": "ok"}
    # A later migration ran (kezek migrate of the next release): this code still serves, and says so.
    await kezek.sql("UPDATE alembic_version SET version_num = '9001_next_release'")
    ahead = await kezek.client.get("/readyz")
    assert ahead.status_code == 200
    assert ahead.json() == {
        "status": "ok",
        "reason": f"ok: migrations at 9001_next_release, ahead of this code's {head}",
    }
    assert "errors" not in await kezek.post("{ regions { code } }")
    # A database behind the code: not ready until `kezek migrate` runs.
    await kezek.sql("UPDATE alembic_version SET version_num = '0004'")
    behind = await kezek.client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json() == {"status": "unavailable", "reason": f"migrations at 0004, head is {head}"}
