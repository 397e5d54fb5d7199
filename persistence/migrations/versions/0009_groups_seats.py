"""The seats of many groups from a day in one set-based pass (`groups_seats`), and `group_seats` as its case of
one group, so that the rule keeps one SQL spelling (tests/test_seats_over_time.py): a region's intake reads
the seats of thousands of groups, which one call per group made a query per group and per day it changes.
Likewise the counts a statement's offers change are refreshed for all their groups at once
(`groups_refresh_many`), `groups_refresh` being its case of one group: a publication's INSERT touches
thousands.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
-- The seats of groups `ids` from day d, as group_seats: what a group holds from d on is summed from +1 on the
-- day a seat is taken (d for one taken already) and -1 the day after it is given back; the days its capacity
-- changes count too. `free` is the least capacity minus taken over those days, `free_from` the first of them
-- from which a seat stays free.
CREATE FUNCTION groups_seats(ids bigint[], d date) RETURNS TABLE (id bigint, free integer, free_from date)
LANGUAGE sql STABLE AS $$
    WITH changes AS (
        SELECT e.group_id AS g, greatest(e.since, d) AS c, 1 AS n FROM enrollments e
        WHERE e.group_id = ANY(ids) AND e.ended_at IS NULL AND (e.leaves_on IS NULL OR e.leaves_on >= d)
        UNION ALL SELECT e.group_id, e.leaves_on + 1, -1 FROM enrollments e
        WHERE e.group_id = ANY(ids) AND e.ended_at IS NULL AND e.leaves_on >= d
        UNION ALL SELECT o.group_id, greatest(o.starts_on, d), 1 FROM offers o
        WHERE o.group_id = ANY(ids) AND o.status IN ('PENDING','CONFIRMED')
        UNION ALL SELECT x.id, d, 0 FROM groups x WHERE x.id = ANY(ids)
        UNION ALL SELECT x.id, x.scheduled_from, 0 FROM groups x WHERE x.id = ANY(ids) AND x.scheduled_from > d
        UNION ALL SELECT x.id, x.opens_on, 0 FROM groups x WHERE x.id = ANY(ids) AND x.opens_on > d
    ), days AS (
        SELECT g, c, sum(sum(n)) OVER (PARTITION BY g ORDER BY c) AS taken FROM changes GROUP BY g, c
    ), s AS (
        SELECT y.g, y.c, min(group_capacity_on(x, y.c) - y.taken) OVER (PARTITION BY y.g ORDER BY y.c DESC) AS seats
        FROM days y JOIN groups x ON x.id = y.g
    )
    SELECT g, (min(seats) FILTER (WHERE c = d))::int, min(c) FILTER (WHERE seats > 0) FROM s GROUP BY g
$$;

CREATE OR REPLACE FUNCTION group_seats(g bigint, d date, OUT free integer, OUT free_from date)
LANGUAGE sql STABLE AS $$
    SELECT s.free, s.free_from FROM groups_seats(ARRAY[g], d) s
$$;

-- The counts of groups `ids` computed together, then written one group at a time in id order, as before:
-- two statements refreshing overlapping groups still lock them in the same order.
CREATE FUNCTION groups_refresh_many(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    today date := kezek_today();
    r record;
BEGIN
    -- The groups' rows first, in id order (as every writer takes them): each count below is then read by a
    -- statement that starts after the last change of these groups committed (migration 0008).
    PERFORM 1 FROM groups WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    FOR r IN
        SELECT s.id, coalesce(e.n, 0) AS enrolled, coalesce(o.n, 0) AS held, s.free, s.free_from
        FROM groups_seats(ids, today) s
        LEFT JOIN (SELECT x.group_id, count(*)::int AS n FROM enrollments x
            WHERE x.group_id = ANY(ids) AND x.ended_at IS NULL AND x.since <= today
              AND (x.leaves_on IS NULL OR x.leaves_on >= today) GROUP BY x.group_id) e ON e.group_id = s.id
        LEFT JOIN (SELECT x.group_id, count(*)::int AS n FROM offers x
            WHERE x.group_id = ANY(ids) AND x.status IN ('PENDING','CONFIRMED') GROUP BY x.group_id) o
            ON o.group_id = s.id
        ORDER BY s.id
    LOOP
        UPDATE groups SET enrolled = r.enrolled, held = r.held, free_seats = r.free, free_from = r.free_from
        WHERE id = r.id AND (enrolled, held, free_seats, free_from)
            IS DISTINCT FROM (r.enrolled, r.held, r.free, r.free_from);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION groups_refresh(g bigint) RETURNS void LANGUAGE sql AS $$
    SELECT groups_refresh_many(ARRAY[g])
$$;

CREATE OR REPLACE FUNCTION offers_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM groups_refresh_many(ARRAY(
            SELECT DISTINCT group_id FROM new_offers WHERE status IN ('PENDING','CONFIRMED')));
    ELSE
        PERFORM groups_refresh_many(ARRAY(
            SELECT DISTINCT n.group_id FROM new_offers n JOIN old_offers o ON o.id = n.id
            WHERE (o.status, o.starts_on) IS DISTINCT FROM (n.status, n.starts_on)
              AND (o.status IN ('PENDING','CONFIRMED') OR n.status IN ('PENDING','CONFIRMED'))));
    END IF;
    RETURN NULL;
END $$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION offers_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM groups_refresh(g.group_id) FROM (
            SELECT DISTINCT group_id FROM new_offers WHERE status IN ('PENDING','CONFIRMED') ORDER BY group_id) g;
    ELSE
        PERFORM groups_refresh(g.group_id) FROM (
            SELECT DISTINCT n.group_id FROM new_offers n JOIN old_offers o ON o.id = n.id
            WHERE (o.status, o.starts_on) IS DISTINCT FROM (n.status, n.starts_on)
              AND (o.status IN ('PENDING','CONFIRMED') OR n.status IN ('PENDING','CONFIRMED'))
            ORDER BY n.group_id) g;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION groups_refresh(g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    today date := kezek_today();
    n_enrolled integer;
    n_held integer;
    seats record;
BEGIN
    PERFORM 1 FROM groups WHERE id = g FOR UPDATE;
    SELECT count(*) INTO n_enrolled FROM enrollments e WHERE e.group_id = g AND e.ended_at IS NULL
        AND e.since <= today AND (e.leaves_on IS NULL OR e.leaves_on >= today);
    SELECT count(*) INTO n_held FROM offers o WHERE o.group_id = g AND o.status IN ('PENDING','CONFIRMED');
    SELECT * INTO seats FROM group_seats(g, today);
    UPDATE groups SET enrolled = n_enrolled, held = n_held, free_seats = seats.free, free_from = seats.free_from
    WHERE id = g AND (enrolled, held, free_seats, free_from)
        IS DISTINCT FROM (n_enrolled, n_held, seats.free, seats.free_from);
END $$;
DROP FUNCTION groups_refresh_many;
CREATE OR REPLACE FUNCTION group_seats(g bigint, d date, OUT free integer, OUT free_from date)
LANGUAGE sql STABLE AS $$
    WITH days AS (
        SELECT c, group_capacity_on(x, c) - group_taken_on(g, c) AS f
        FROM groups x, group_changes_from(g, d) AS c WHERE x.id = g
    ), s AS (SELECT c, min(f) OVER (ORDER BY c DESC) AS seats FROM days)
    SELECT (SELECT seats FROM s WHERE c = d)::int, (SELECT min(c) FROM s WHERE seats > 0)
$$;
DROP FUNCTION groups_seats;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
