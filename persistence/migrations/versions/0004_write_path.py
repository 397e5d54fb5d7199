"""The national write path: allocation work queued per group, and feed positions given in commit order by a
sequencer instead of one lock every writer took.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- Groups that may have a free seat and a candidate: written with the change, drained right after its commit
-- (and by every process's dispatcher once due_at passes, so nothing is lost if the committing process dies).
CREATE TABLE allocation_queue (
    group_id bigint PRIMARY KEY REFERENCES groups(id),
    due_at timestamptz NOT NULL
);
CREATE INDEX allocation_queue_due ON allocation_queue(due_at);

-- A feed event's position (its cursor) is given once it has committed, by one sequencer at a time holding
-- feed_head's row: positions are dense and follow the order in which events became visible, so a replay
-- `after` a cursor never skips or repeats one, however many writers commit in parallel.
ALTER TABLE events ADD COLUMN position bigint;
UPDATE events SET position = id;
CREATE UNIQUE INDEX events_position ON events(position);
CREATE INDEX events_unsequenced ON events(id) WHERE position IS NULL;
CREATE TABLE feed_head (
    id integer PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);
INSERT INTO feed_head VALUES (1, COALESCE((SELECT max(id) FROM events), 0));
"""

DOWNGRADE = """
DROP TABLE feed_head;
DROP INDEX events_unsequenced;
DROP INDEX events_position;
ALTER TABLE events DROP COLUMN position;
DROP TABLE allocation_queue;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
