"""Stage 2: offers, contracts, sibling groups, the event feed of subscriptions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE applications ADD COLUMN dropped_kindergartens bigint[] NOT NULL DEFAULT '{}';

CREATE TABLE sibling_groups (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL
);
ALTER TABLE applications ADD CONSTRAINT applications_sibling_group
    FOREIGN KEY (sibling_group_id) REFERENCES sibling_groups(id);
CREATE INDEX applications_sibling_group ON applications(sibling_group_id) WHERE sibling_group_id IS NOT NULL;

CREATE TABLE offers (
    id bigserial PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications(id),
    child_iin text NOT NULL,
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    group_id bigint NOT NULL REFERENCES groups(id),
    status text NOT NULL CHECK (status IN
        ('PENDING','CONFIRMED','DECLINED','LAPSED','SUPERSEDED','CANCELLED','ENROLLED')),
    tier_rank smallint NOT NULL CHECK (tier_rank BETWEEN 0 AND 2),
    upgrade boolean NOT NULL DEFAULT false,
    sibling_group_id bigint REFERENCES sibling_groups(id),
    created_at timestamptz NOT NULL,
    respond_by timestamptz NOT NULL,
    remind_at timestamptz,
    reminded_at timestamptz,
    decided_at timestamptz
);
-- At most one live offer per child (docs/quality.md §4).
CREATE UNIQUE INDEX one_live_offer_per_child ON offers(child_iin) WHERE status IN ('PENDING','CONFIRMED');
CREATE INDEX offers_application ON offers(application_id, id DESC);
CREATE INDEX offers_group_live ON offers(group_id) WHERE status IN ('PENDING','CONFIRMED');
CREATE INDEX offers_deadline ON offers(respond_by) WHERE status IN ('PENDING','CONFIRMED');
CREATE INDEX offers_reminder ON offers(remind_at) WHERE status IN ('PENDING','CONFIRMED') AND reminded_at IS NULL;
CREATE INDEX offers_sibling_group ON offers(sibling_group_id) WHERE sibling_group_id IS NOT NULL;

-- groups.held follows the live offers; the group's CHECK (enrolled + held <= capacity) refuses overbooking.
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
CREATE TRIGGER offers_hold AFTER INSERT OR UPDATE OF status ON offers
    FOR EACH ROW EXECUTE FUNCTION offers_hold();

-- An offer moves only forward: PENDING → CONFIRMED → ENROLLED, or from a live state to an end state.
CREATE FUNCTION offers_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = NEW.status THEN
        RETURN NEW;
    END IF;
    IF OLD.status NOT IN ('PENDING','CONFIRMED')
       OR (NEW.status = 'PENDING')
       OR (NEW.status = 'ENROLLED' AND OLD.status <> 'CONFIRMED')
       OR (NEW.status = 'CONFIRMED' AND OLD.status <> 'PENDING') THEN
        RAISE EXCEPTION 'offer % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER offers_transition BEFORE UPDATE OF status ON offers
    FOR EACH ROW EXECUTE FUNCTION offers_transition();

CREATE TABLE contracts (
    id bigserial PRIMARY KEY,
    offer_id bigint NOT NULL UNIQUE REFERENCES offers(id),
    text text NOT NULL,
    document_hash text NOT NULL CHECK (document_hash ~ '^[0-9a-f]{64}$'),
    language text NOT NULL,
    issued_at timestamptz NOT NULL,
    sign_by timestamptz NOT NULL,
    signed_at timestamptz,
    extended boolean NOT NULL DEFAULT false,
    health_documents jsonb NOT NULL DEFAULT '[]',
    missing_documents jsonb NOT NULL DEFAULT '[]'
);

ALTER TABLE enrollments ADD COLUMN offer_id bigint REFERENCES offers(id);
CREATE INDEX enrollments_kindergarten ON enrollments(kindergarten_id) WHERE ended_at IS NULL;
CREATE INDEX enrollments_since ON enrollments(since);

-- The subscription feed. Writers hold the allocation lock until commit, so ids follow commit order.
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    stream text NOT NULL CHECK (stream IN ('vacancy','offer','application')),
    kind text NOT NULL,
    kindergarten_id bigint,
    group_id bigint,
    free_seats integer,
    region_code text,
    district_code text,
    offer_id bigint,
    application_id bigint,
    child_iin text
);
CREATE INDEX events_at ON events(at);
"""

DOWNGRADE = """
DROP TABLE events, contracts CASCADE;
ALTER TABLE enrollments DROP COLUMN offer_id;
DROP TABLE offers CASCADE;
DROP FUNCTION offers_hold, offers_transition;
ALTER TABLE applications DROP CONSTRAINT applications_sibling_group;
DROP TABLE sibling_groups;
ALTER TABLE applications DROP COLUMN dropped_kindergartens;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
