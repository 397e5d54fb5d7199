"""An intake run's inputs are kept as `json`, the text the statement that read them built (decision 100): the
database neither parses them into `jsonb` on the way in nor prints them back on the way out, and the text the
matching read is the text stored. The lowest rank an application holds a seat at (persistence/sql.py
`HOLDING`, read for every candidate of a region by the intake, and by the allocator and the estimates) comes
from a partial index of the held choices instead of every choice's row.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE intake_runs ALTER COLUMN inputs TYPE json USING inputs::json;
CREATE INDEX choices_held ON choices (application_id, rank) WHERE held_here;
"""

DOWNGRADE = """
DROP INDEX choices_held;
ALTER TABLE intake_runs ALTER COLUMN inputs TYPE jsonb USING inputs::jsonb;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
