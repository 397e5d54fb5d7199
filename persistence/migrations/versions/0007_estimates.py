"""The waiting estimate's facts (docs/product.md §3 "Waiting estimate"): a queue's offers of the last 365 days are
read from `offers` itself, by kindergarten and time, so that the status query reads a kindergarten's year of
offers from the index instead of its every offer ever. An index, which the database keeps: nothing to drift.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
-- Summer-intake offers apart: the estimate counts the next intake from its planned seats instead.
CREATE INDEX offers_made_at_kindergarten ON offers(kindergarten_id, created_at) INCLUDE (application_id, tier_rank)
    WHERE intake_run_id IS NULL;
"""

DOWNGRADE = """
DROP INDEX offers_made_at_kindergarten;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
