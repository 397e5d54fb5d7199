"""A group's counts are refreshed under the group's row lock (docs/product.md §2 held and free seats).

`groups_refresh(g)` counted a group's enrolments and live offers, then updated its row. A transaction that
changed the group's offers or enrolments without having locked the group row first could count before another
change of the group committed; its UPDATE then waited for that change and wrote a count that missed it
(tests/test_concurrency.py found `held` and `free_seats` one off in about a third of its runs once writing an
offer took a little longer, with migration 0007's index on offers, and never without it). Locking the row first
makes every count start after the group's last refresh has committed: each statement of the function reads a
snapshot taken after the lock. Within a statement groups are still refreshed in id order (offers_hold).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_REFRESH = """
CREATE OR REPLACE FUNCTION groups_refresh(g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    today date := kezek_today();
    n_enrolled integer;
    n_held integer;
    seats record;
BEGIN
    {lock}
    SELECT count(*) INTO n_enrolled FROM enrollments e WHERE e.group_id = g AND e.ended_at IS NULL
        AND e.since <= today AND (e.leaves_on IS NULL OR e.leaves_on >= today);
    SELECT count(*) INTO n_held FROM offers o WHERE o.group_id = g AND o.status IN ('PENDING','CONFIRMED');
    SELECT * INTO seats FROM group_seats(g, today);
    UPDATE groups SET enrolled = n_enrolled, held = n_held, free_seats = seats.free, free_from = seats.free_from
    WHERE id = g AND (enrolled, held, free_seats, free_from)
        IS DISTINCT FROM (n_enrolled, n_held, seats.free, seats.free_from);
END $$;
"""

UPGRADE = _REFRESH.format(lock="PERFORM 1 FROM groups WHERE id = g FOR UPDATE;")
DOWNGRADE = _REFRESH.format(lock="")


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
