"""Stage 1: places, registry snapshot and sandbox, applications, choices, claims, audit, outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LANG = "('KK','RU','EN')"
GTYPE = "('GENERAL','SPECIAL','SANATORIUM')"
CATEGORY = (
    "('MILITARY','SPECIAL_STATE_BODY','DISABLED_PARENT','ORPHAN','LARGE_FAMILY','SPECIAL_NEEDS',"
    "'DISABLED_CHILD','TEACHER_CHILD')"
)

UPGRADE = f"""
CREATE TABLE regions (
    code text PRIMARY KEY,
    name_kk text NOT NULL,
    name_ru text NOT NULL
);
CREATE TABLE districts (
    code text PRIMARY KEY,
    region_code text NOT NULL REFERENCES regions(code),
    name_kk text NOT NULL,
    name_ru text NOT NULL
);
CREATE INDEX districts_region ON districts(region_code);

CREATE TABLE kindergartens (
    id bigserial PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    district_code text NOT NULL REFERENCES districts(code),
    name_kk text NOT NULL,
    name_ru text NOT NULL,
    address text NOT NULL DEFAULT '',
    ownership text NOT NULL CHECK (ownership IN ('STATE','PRIVATE')),
    state_order boolean NOT NULL DEFAULT false,
    latitude double precision,
    longitude double precision,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kindergartens_district ON kindergartens(district_code, id);

CREATE TABLE groups (
    id bigserial PRIMARY KEY,
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    external_id text NOT NULL,
    birth_year_from smallint NOT NULL,
    birth_year_to smallint NOT NULL,
    language text NOT NULL CHECK (language IN {LANG}),
    group_type text NOT NULL CHECK (group_type IN {GTYPE}),
    capacity integer NOT NULL CHECK (capacity >= 0),
    enrolled integer NOT NULL DEFAULT 0 CHECK (enrolled >= 0),
    held integer NOT NULL DEFAULT 0 CHECK (held >= 0),
    CONSTRAINT group_birth_years CHECK (birth_year_from <= birth_year_to),
    CONSTRAINT group_not_over_capacity CHECK (enrolled + held <= capacity),
    UNIQUE (kindergarten_id, external_id)
);
CREATE INDEX groups_kindergarten ON groups(kindergarten_id);

-- Sandbox registries (docs/product.md §9): imported from a JSON file, served by the sandbox adapters.
CREATE TABLE sandbox_persons (
    iin text PRIMARY KEY,
    full_name text NOT NULL,
    birth_date date NOT NULL,
    sex text NOT NULL,
    alive boolean NOT NULL DEFAULT true,
    district_code text,
    phone text
);
CREATE TABLE sandbox_families (
    child_iin text NOT NULL,
    representative_iin text NOT NULL,
    PRIMARY KEY (child_iin, representative_iin)
);
CREATE INDEX sandbox_families_representative ON sandbox_families(representative_iin);
CREATE TABLE sandbox_benefits (
    iin text NOT NULL,
    category text NOT NULL CHECK (category IN {CATEGORY}),
    evidence_id text NOT NULL,
    PRIMARY KEY (iin, category, evidence_id)
);
CREATE TABLE sandbox_health (
    child_iin text NOT NULL,
    kind text NOT NULL,
    document_id text NOT NULL,
    issued_on date NOT NULL,
    PRIMARY KEY (child_iin, document_id)
);
CREATE TABLE sandbox_sms (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    recipient text NOT NULL,
    text text NOT NULL,
    language text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_sms_recipient ON sandbox_sms(recipient, id);

-- Kezek's own snapshot of the people it has dealt with.
CREATE TABLE persons (
    iin text PRIMARY KEY,
    full_name text NOT NULL,
    birth_date date NOT NULL,
    sex text NOT NULL,
    alive boolean NOT NULL,
    district_code text,
    phone text,
    refreshed_at timestamptz NOT NULL,
    children_refreshed_at timestamptz
);
CREATE TABLE representations (
    child_iin text NOT NULL REFERENCES persons(iin),
    representative_iin text NOT NULL REFERENCES persons(iin),
    PRIMARY KEY (child_iin, representative_iin)
);
CREATE INDEX representations_representative ON representations(representative_iin, child_iin);

CREATE SEQUENCE application_number_seq;
CREATE TABLE applications (
    id bigint PRIMARY KEY,
    number text NOT NULL UNIQUE,
    child_iin text NOT NULL REFERENCES persons(iin),
    status text NOT NULL CHECK (status IN
        ('QUEUED','OFFERED','ENROLLING','ENROLLED','INACTIVE','WITHDRAWN','CLOSED','AGED_OUT')),
    active boolean NOT NULL,
    in_queue boolean NOT NULL,
    queue_date timestamptz NOT NULL,
    channel text NOT NULL,
    tier_rank smallint NOT NULL CHECK (tier_rank BETWEEN 0 AND 2),
    language text NOT NULL CHECK (language IN {LANG}),
    group_type text NOT NULL CHECK (group_type IN {GTYPE}),
    desired_start_date date NOT NULL,
    phone text,
    notification_language text NOT NULL CHECK (notification_language IN {LANG}),
    birth_year smallint NOT NULL,
    district_code text,
    region_code text,
    restored boolean NOT NULL DEFAULT false,
    inactive_since timestamptz,
    sibling_group_id bigint,
    next_benefit_check_at timestamptz,
    benefit_check_failures integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT in_queue_follows_status
        CHECK (in_queue = (status IN ('QUEUED','OFFERED','ENROLLING','ENROLLED'))),
    CONSTRAINT active_follows_status CHECK (
        (status IN ('WITHDRAWN','CLOSED','AGED_OUT') AND NOT active)
        OR (status IN ('QUEUED','OFFERED','ENROLLING','INACTIVE') AND active)
        OR status = 'ENROLLED'),
    -- Target of the choices' foreign key: the queue fields a choice copies can never drift.
    CONSTRAINT applications_queue_fields
        UNIQUE (id, tier_rank, queue_date, birth_year, language, group_type, in_queue)
);
-- One active application per child nationwide, whatever the channel.
CREATE UNIQUE INDEX one_active_application_per_child ON applications(child_iin) WHERE active;
CREATE INDEX applications_child ON applications(child_iin, id DESC);
CREATE INDEX applications_aging ON applications(birth_year) WHERE active;
CREATE INDEX applications_benefit_check ON applications(next_benefit_check_at) WHERE active;
CREATE INDEX applications_area ON applications(region_code, district_code);

CREATE TABLE choices (
    application_id bigint NOT NULL,
    rank smallint NOT NULL CHECK (rank BETWEEN 1 AND 4),
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    tier_rank smallint NOT NULL,
    queue_date timestamptz NOT NULL,
    birth_year smallint NOT NULL,
    language text NOT NULL,
    group_type text NOT NULL,
    app_in_queue boolean NOT NULL,
    sibling_rank smallint NOT NULL DEFAULT 1 CHECK (sibling_rank IN (0, 1)),
    held_here boolean NOT NULL DEFAULT false,
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (application_id, rank),
    UNIQUE (application_id, kindergarten_id),
    FOREIGN KEY (application_id, tier_rank, queue_date, birth_year, language, group_type, app_in_queue)
        REFERENCES applications (id, tier_rank, queue_date, birth_year, language, group_type, in_queue)
        ON UPDATE CASCADE ON DELETE CASCADE
);
-- Position = 1 + an index-only count over this index (docs/product.md §3 queue order).
CREATE INDEX choices_queue_order ON choices
    (kindergarten_id, birth_year, language, group_type, tier_rank, sibling_rank, queue_date, application_id)
    WHERE app_in_queue AND NOT held_here;
CREATE INDEX choices_kindergarten ON choices(kindergarten_id);

CREATE TABLE priority_claims (
    id bigserial PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications(id),
    category text NOT NULL CHECK (category IN {CATEGORY}),
    status text NOT NULL CHECK (status IN ('VERIFIED','PENDING_MANUAL','REJECTED','EXPIRED','REVOKED')),
    subject_iin text NOT NULL,
    evidence_id text NOT NULL,
    source text NOT NULL,
    manual_deadline timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    decided_by text,
    note text,
    UNIQUE (application_id, category, subject_iin, evidence_id)
);
CREATE INDEX priority_claims_application ON priority_claims(application_id);
CREATE INDEX priority_claims_pending ON priority_claims(manual_deadline) WHERE status = 'PENDING_MANUAL';

CREATE TABLE enrollments (
    id bigserial PRIMARY KEY,
    child_iin text NOT NULL,
    group_id bigint NOT NULL REFERENCES groups(id),
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    application_id bigint REFERENCES applications(id),
    since date NOT NULL,
    ended_at timestamptz,
    end_reason text
);
CREATE UNIQUE INDEX one_enrollment_per_child ON enrollments(child_iin) WHERE ended_at IS NULL;
CREATE INDEX enrollments_group ON enrollments(group_id) WHERE ended_at IS NULL;

-- groups.enrolled follows the enrolments; the group's CHECK then refuses any over-capacity state.
CREATE FUNCTION enrollments_count() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_role text,
    actor_subject text,
    channel text,
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    action text NOT NULL,
    before jsonb,
    after jsonb,
    reason text,
    application_id bigint
);
CREATE INDEX audit_log_application ON audit_log(application_id, id DESC) WHERE application_id IS NOT NULL;
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    recipient text NOT NULL,
    text text NOT NULL,
    language text NOT NULL,
    kind text NOT NULL,
    application_id bigint,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    last_error text
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE queue_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kindergarten_id bigint NOT NULL,
    birth_year smallint NOT NULL,
    language text NOT NULL,
    group_type text NOT NULL,
    tier_rank smallint NOT NULL,
    sibling_rank smallint NOT NULL,
    queue_date timestamptz NOT NULL,
    application_id bigint NOT NULL,
    delta smallint NOT NULL,
    own_delta integer,
    reason text NOT NULL
);
CREATE INDEX queue_events_queue ON queue_events(kindergarten_id, birth_year, language, group_type, at DESC);
CREATE INDEX queue_events_application ON queue_events(application_id, at DESC) WHERE own_delta IS NOT NULL;

CREATE TABLE idempotency_keys (
    channel text NOT NULL,
    subject text NOT NULL,
    mutation text NOT NULL,
    key text NOT NULL,
    input_hash text NOT NULL,
    payload jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, subject, mutation, key)
);
"""

DOWNGRADE = """
DROP TABLE idempotency_keys, queue_events, outbox, audit_log, enrollments, priority_claims, choices,
    applications, representations, persons, sandbox_sms, sandbox_health, sandbox_benefits, sandbox_families,
    sandbox_persons, groups, kindergartens, districts, regions CASCADE;
DROP SEQUENCE application_number_seq;
DROP FUNCTION enrollments_count, audit_log_append_only;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
