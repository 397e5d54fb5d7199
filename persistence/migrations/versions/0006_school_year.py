"""The school year (docs/product.md §10): seats over time, planned departures, offers for a later date, and
the summer intake run.

A seat is free *from* a date. A group may open on a date and have a capacity from a date; an enrolment may
end on a date (`leaves_on`, inclusive) or start on one (`since`); a live offer holds its seat from its
`starts_on`. `group_seats_from(g, d)` — the seats of group g free on every day from d on — is the one SQL
spelling of domain/seats.py (tests/test_seats.py holds them equal); `groups.free_seats` keeps it for today
(Asia/Almaty), and its CHECK is the invariant: no group is ever over capacity on any day to come.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
-- Today as the application's clock sees it (set per transaction by the unit of work, persistence/uow.py), so
-- that a moved clock (tests, the simulated year) and the database agree; Asia/Almaty's date otherwise.
CREATE FUNCTION kezek_today() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('kezek.today', true), '')::date, (now() AT TIME ZONE 'Asia/Almaty')::date)
$$;

ALTER TABLE groups ADD COLUMN opens_on date;
ALTER TABLE groups ADD COLUMN scheduled_capacity integer CHECK (scheduled_capacity >= 0);
ALTER TABLE groups ADD COLUMN scheduled_from date;
ALTER TABLE groups ADD CONSTRAINT group_schedule_whole
    CHECK ((scheduled_capacity IS NULL) = (scheduled_from IS NULL));
ALTER TABLE enrollments ADD COLUMN leaves_on date;
ALTER TABLE enrollments ADD CONSTRAINT enrollment_leaves_after_start CHECK (leaves_on IS NULL OR leaves_on >= since);
ALTER TABLE offers ADD COLUMN starts_on date;
UPDATE offers SET starts_on = (created_at AT TIME ZONE 'Asia/Almaty')::date;
ALTER TABLE offers ALTER COLUMN starts_on SET NOT NULL;

-- The default departure: the enrolment of a child who turns 6 in year Y ends on 31 August Y.
UPDATE enrollments e SET leaves_on = make_date(extract(year FROM p.birth_date)::int + 6, 8, 31)
FROM persons p WHERE p.iin = e.child_iin AND e.ended_at IS NULL
  AND make_date(extract(year FROM p.birth_date)::int + 6, 8, 31) >= e.since;

CREATE INDEX enrollments_leaving ON enrollments(leaves_on) WHERE ended_at IS NULL AND leaves_on IS NOT NULL;
CREATE INDEX enrollments_starting ON enrollments(since) WHERE ended_at IS NULL;
CREATE INDEX groups_scheduled ON groups(scheduled_from) WHERE scheduled_from IS NOT NULL;
CREATE INDEX groups_opening ON groups(opens_on) WHERE opens_on IS NOT NULL;
CREATE INDEX offers_starting ON offers(starts_on) WHERE status IN ('PENDING','CONFIRMED');

-- A child is in one kindergarten on any day: an upgrade signed for a later start leaves the old enrolment
-- running until the day before (so two enrolments, one after the other), which a unique index cannot say.
DROP INDEX one_enrollment_per_child;
CREATE INDEX enrollments_child ON enrollments(child_iin) WHERE ended_at IS NULL;
CREATE FUNCTION enrollments_one_at_a_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ended_at IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(NEW.child_iin, 8));  -- two writers see each other
        IF EXISTS (SELECT 1 FROM enrollments e WHERE e.child_iin = NEW.child_iin AND e.id <> NEW.id
                   AND e.ended_at IS NULL
                   AND daterange(e.since, e.leaves_on, '[]') && daterange(NEW.since, NEW.leaves_on, '[]')) THEN
            RAISE EXCEPTION 'the child is enrolled elsewhere on those days'
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'one_enrollment_per_child';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER enrollments_one_at_a_time AFTER INSERT OR UPDATE OF since, leaves_on, ended_at ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollments_one_at_a_time();

-- Capacity of group g on day d: none before it opens, the scheduled capacity from its date.
CREATE FUNCTION group_capacity_on(g groups, d date) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN g.opens_on IS NOT NULL AND d < g.opens_on THEN 0
                WHEN g.scheduled_from IS NOT NULL AND d >= g.scheduled_from THEN g.scheduled_capacity
                ELSE g.capacity END
$$;

-- Seats of group g taken on day d: enrolments from their start to their last day, live offers from theirs.
CREATE FUNCTION group_taken_on(g bigint, d date) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM enrollments e WHERE e.group_id = g AND e.ended_at IS NULL
              AND e.since <= d AND (e.leaves_on IS NULL OR e.leaves_on >= d))::int
         + (SELECT count(*) FROM offers o WHERE o.group_id = g AND o.status IN ('PENDING','CONFIRMED')
              AND o.starts_on <= d)::int
$$;

-- The days from d on when what group g holds, or may hold, changes; d itself first.
CREATE FUNCTION group_changes_from(g bigint, d date) RETURNS SETOF date LANGUAGE sql STABLE AS $$
    SELECT d
    UNION SELECT e.leaves_on + 1 FROM enrollments e
        WHERE e.group_id = g AND e.ended_at IS NULL AND e.leaves_on IS NOT NULL AND e.leaves_on + 1 > d
    UNION SELECT e.since FROM enrollments e WHERE e.group_id = g AND e.ended_at IS NULL AND e.since > d
    UNION SELECT o.starts_on FROM offers o
        WHERE o.group_id = g AND o.status IN ('PENDING','CONFIRMED') AND o.starts_on > d
    UNION SELECT x.scheduled_from FROM groups x WHERE x.id = g AND x.scheduled_from > d
    UNION SELECT x.opens_on FROM groups x WHERE x.id = g AND x.opens_on > d
$$;

-- The group's seats from day d (docs/product.md §10 "a seat is free from a date"), the one SQL spelling of
-- domain/seats_over_time.py: `free`, the seats free on every day from d on; `free_from`, the first day from
-- d on with a seat free on every day after it (null: none ever).
CREATE FUNCTION group_seats(g bigint, d date, OUT free integer, OUT free_from date) LANGUAGE sql STABLE AS $$
    WITH days AS (
        SELECT c, group_capacity_on(x, c) - group_taken_on(g, c) AS f
        FROM groups x, group_changes_from(g, d) AS c WHERE x.id = g
    ), s AS (SELECT c, min(f) OVER (ORDER BY c DESC) AS seats FROM days)
    SELECT (SELECT seats FROM s WHERE c = d)::int, (SELECT min(c) FROM s WHERE seats > 0)
$$;

-- The most seats group g holds on any day in [d, until) (until null: for good): the least capacity it can have.
CREATE FUNCTION group_peak(g bigint, d date, until date) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT COALESCE(max(group_taken_on(g, c)), 0)::int
    FROM group_changes_from(g, d) AS c WHERE until IS NULL OR c < until
$$;

-- The fewest seats group g has free on any day in [d, until) (until null: for good).
CREATE FUNCTION group_least_free(g bigint, d date, until date) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT min(group_capacity_on(x, c) - group_taken_on(g, c))::int
    FROM groups x, group_changes_from(g, d) AS c WHERE x.id = g AND (until IS NULL OR c < until)
$$;

-- enrolled: enrolments in force today; held: live offers, whatever their start; free_seats and free_from as
-- group_seats for today. The CHECK on free_seats is the invariant: no day to come has more children than seats.
ALTER TABLE groups DROP CONSTRAINT group_not_over_capacity;
ALTER TABLE groups ADD COLUMN free_seats integer NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN free_from date;
ALTER TABLE groups ADD CONSTRAINT group_not_over_capacity CHECK (free_seats >= 0);
CREATE INDEX groups_free_from ON groups(free_from) WHERE free_from IS NOT NULL;

CREATE FUNCTION groups_refresh(g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    today date := kezek_today();
    n_enrolled integer;
    n_held integer;
    seats record;
BEGIN
    SELECT count(*) INTO n_enrolled FROM enrollments e WHERE e.group_id = g AND e.ended_at IS NULL
        AND e.since <= today AND (e.leaves_on IS NULL OR e.leaves_on >= today);
    SELECT count(*) INTO n_held FROM offers o WHERE o.group_id = g AND o.status IN ('PENDING','CONFIRMED');
    SELECT * INTO seats FROM group_seats(g, today);
    UPDATE groups SET enrolled = n_enrolled, held = n_held, free_seats = seats.free, free_from = seats.free_from
    WHERE id = g AND (enrolled, held, free_seats, free_from)
        IS DISTINCT FROM (n_enrolled, n_held, seats.free, seats.free_from);
END $$;
SELECT groups_refresh(id) FROM groups;

-- Every change to what a group holds keeps its counts (and so the CHECK) up to date.
CREATE OR REPLACE FUNCTION enrollments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM groups_refresh(NEW.group_id);
    RETURN NEW;
END $$;
DROP TRIGGER enrollments_count ON enrollments;
CREATE TRIGGER enrollments_count AFTER INSERT OR UPDATE OF ended_at, leaves_on, since ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollments_count();

-- Per statement, each group once and in id order (a publication writes thousands of offers in one statement).
DROP TRIGGER offers_hold ON offers;
DROP FUNCTION offers_hold;
CREATE FUNCTION offers_hold() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER offers_hold AFTER INSERT ON offers REFERENCING NEW TABLE AS new_offers
    FOR EACH STATEMENT EXECUTE FUNCTION offers_hold();
CREATE TRIGGER offers_held AFTER UPDATE ON offers REFERENCING OLD TABLE AS old_offers NEW TABLE AS new_offers
    FOR EACH STATEMENT EXECUTE FUNCTION offers_hold();

CREATE FUNCTION groups_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM groups_refresh(NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER groups_seats_changed AFTER INSERT OR UPDATE OF capacity, scheduled_capacity, scheduled_from, opens_on
    ON groups FOR EACH ROW EXECUTE FUNCTION groups_seats_changed();

-- The last day the worker's daily pass ran for (departures, schedules, counts as of that day).
CREATE TABLE school_days (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    refreshed_on date NOT NULL
);
INSERT INTO school_days (refreshed_on) VALUES (DATE '2000-01-01');  -- the first pass counts every group

-- The summer intake (docs/product.md §10): one published run per region and school year.
CREATE TABLE intake_runs (
    id bigserial PRIMARY KEY,
    region_code text NOT NULL REFERENCES regions(code),
    school_year integer NOT NULL CHECK (school_year BETWEEN 2000 AND 2100),
    status text NOT NULL CHECK (status IN ('DRAFT','PUBLISHED','DISCARDED')),
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    published_at timestamptz,
    discarded_at timestamptz,
    inputs jsonb NOT NULL,
    totals jsonb NOT NULL,
    verdict jsonb NOT NULL,
    changes_at_publish jsonb NOT NULL DEFAULT '[]',
    CHECK ((status = 'PUBLISHED') = (published_at IS NOT NULL)),
    CHECK ((status = 'DISCARDED') = (discarded_at IS NOT NULL))
);
CREATE UNIQUE INDEX one_published_run ON intake_runs(region_code, school_year) WHERE status = 'PUBLISHED';
CREATE UNIQUE INDEX one_draft_run ON intake_runs(region_code, school_year) WHERE status = 'DRAFT';
CREATE TABLE intake_run_groups (
    run_id bigint NOT NULL REFERENCES intake_runs(id),
    group_id bigint NOT NULL REFERENCES groups(id),
    seats integer NOT NULL CHECK (seats >= 0),
    offered bigint[] NOT NULL,
    left_free integer NOT NULL CHECK (left_free >= 0),
    left_free_reason text,
    PRIMARY KEY (run_id, group_id)
);
ALTER TABLE offers ADD COLUMN intake_run_id bigint REFERENCES intake_runs(id);
CREATE INDEX offers_intake_run ON offers(intake_run_id) WHERE intake_run_id IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX offers_intake_run;
ALTER TABLE offers DROP COLUMN intake_run_id;
DROP TABLE intake_run_groups, intake_runs, school_days;
DROP TRIGGER groups_seats_changed ON groups;
DROP FUNCTION groups_seats_changed;
DROP TRIGGER enrollments_one_at_a_time ON enrollments;
DROP FUNCTION enrollments_one_at_a_time;
DROP INDEX enrollments_child;
CREATE UNIQUE INDEX one_enrollment_per_child ON enrollments(child_iin) WHERE ended_at IS NULL;

DROP TRIGGER offers_hold ON offers;
DROP TRIGGER offers_held ON offers;
DROP FUNCTION offers_hold;
CREATE FUNCTION offers_hold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_live boolean := TG_OP = 'UPDATE' AND OLD.status IN ('PENDING','CONFIRMED');
    is_live boolean := NEW.status IN ('PENDING','CONFIRMED');
BEGIN
    IF is_live AND NOT was_live THEN
        UPDATE groups SET held = held + 1 WHERE id = NEW.group_id;
    ELSIF was_live AND NOT is_live THEN
        UPDATE groups SET held = held - 1 WHERE id = OLD.group_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER offers_hold AFTER INSERT OR UPDATE OF status ON offers FOR EACH ROW EXECUTE FUNCTION offers_hold();

DROP TRIGGER enrollments_count ON enrollments;
CREATE OR REPLACE FUNCTION enrollments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.ended_at IS NULL THEN
        UPDATE groups SET enrolled = enrolled + 1 WHERE id = NEW.group_id;
    ELSIF TG_OP = 'UPDATE' AND OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL THEN
        UPDATE groups SET enrolled = enrolled - 1 WHERE id = OLD.group_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER enrollments_count AFTER INSERT OR UPDATE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollments_count();
UPDATE groups g SET enrolled = (SELECT count(*) FROM enrollments e WHERE e.group_id = g.id AND e.ended_at IS NULL);

ALTER TABLE groups DROP CONSTRAINT group_not_over_capacity;
DROP INDEX groups_free_from;
ALTER TABLE groups DROP COLUMN free_seats, DROP COLUMN free_from;
ALTER TABLE groups ADD CONSTRAINT group_not_over_capacity CHECK (enrolled + held <= capacity);
DROP FUNCTION groups_refresh, group_least_free, group_peak, group_seats, group_changes_from, group_taken_on,
    group_capacity_on;
DROP INDEX enrollments_leaving, enrollments_starting, groups_scheduled, groups_opening, offers_starting;
ALTER TABLE offers DROP COLUMN starts_on;
ALTER TABLE enrollments DROP COLUMN leaves_on;
ALTER TABLE groups DROP COLUMN opens_on, DROP COLUMN scheduled_capacity, DROP COLUMN scheduled_from;
DROP FUNCTION kezek_today;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
