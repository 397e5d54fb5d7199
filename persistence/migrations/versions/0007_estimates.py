"""The waiting estimate's facts (docs/product.md §3 "Waiting estimate"): per queue, the offers of the last 365 days by
tier and month and the seats planned for the next school year, counted once a day by the worker
(persistence/estimates.py), so that the status query reads one row per queue.

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
-- One row per queue (kindergarten, birth year, language, group type) that had an offer in the window or has
-- seats planned. offers[tier rank + 1][month + 1]: offers made to children of that tier in that twelfth of the
-- 365 days up to counted_on (month 0 the latest), summer-intake offers apart. planned_seats: the seats its groups
-- have free from the next 1 September beyond those free today, a mixed-age group's shared among its birth years.
CREATE TABLE queue_movement (
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    birth_year integer NOT NULL,
    language text NOT NULL,
    group_type text NOT NULL,
    offers integer[] NOT NULL,
    planned_seats real NOT NULL CHECK (planned_seats >= 0),
    PRIMARY KEY (kindergarten_id, birth_year, language, group_type)
);

-- The day queue_movement was counted for (by the application's clock): the worker counts each day once.
CREATE TABLE queue_movement_day (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    counted_on date NOT NULL
);
INSERT INTO queue_movement_day (counted_on) VALUES (DATE '2000-01-01');  -- the first pass counts
"""

DOWNGRADE = """
DROP TABLE queue_movement_day, queue_movement;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
