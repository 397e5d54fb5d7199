"""The waiting estimate's facts (docs/product.md §3 "Waiting estimate"): the offers each queue made, by tier and
day, kept by the database from `offers` itself, so that the status query reads a few rows per queue instead of
every offer of a kindergarten's year.

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
-- Offers made to the children of a queue (kindergarten, birth year, language, group type) of one tier on one
-- day (Asia/Almaty), the summer intake's apart: the intake is counted from its planned seats instead. The queue
-- is the application's at the offer, as the allocator chose it. Only the triggers below write it: a count that
-- cannot drift from the offers it counts.
CREATE TABLE queue_offers (
    kindergarten_id bigint NOT NULL REFERENCES kindergartens(id),
    birth_year smallint NOT NULL,
    language text NOT NULL,
    group_type text NOT NULL,
    tier_rank smallint NOT NULL,
    day date NOT NULL,
    offers integer NOT NULL CHECK (offers > 0),
    PRIMARY KEY (kindergarten_id, birth_year, language, group_type, day, tier_rank)
);

CREATE FUNCTION queue_offers_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO queue_offers AS q
        SELECT o.kindergarten_id, a.birth_year, a.language, a.group_type, o.tier_rank,
            (o.created_at AT TIME ZONE 'Asia/Almaty')::date, count(*)
        FROM new_offers o JOIN applications a ON a.id = o.application_id
        WHERE o.intake_run_id IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (kindergarten_id, birth_year, language, group_type, day, tier_rank)
            DO UPDATE SET offers = q.offers + EXCLUDED.offers;
    ELSE
        -- Offers are history and stay; a deletion (a test's set-up, a data repair) takes its count with it.
        WITH gone AS (
            SELECT o.kindergarten_id, a.birth_year, a.language, a.group_type, o.tier_rank,
                (o.created_at AT TIME ZONE 'Asia/Almaty')::date AS day, count(*) AS n
            FROM old_offers o JOIN applications a ON a.id = o.application_id
            WHERE o.intake_run_id IS NULL
            GROUP BY 1, 2, 3, 4, 5, 6
        ), less AS (
            UPDATE queue_offers q SET offers = q.offers - g.n FROM gone g
            WHERE (q.kindergarten_id, q.birth_year, q.language, q.group_type, q.tier_rank, q.day)
                = (g.kindergarten_id, g.birth_year, g.language, g.group_type, g.tier_rank, g.day)
                AND q.offers > g.n
        )
        DELETE FROM queue_offers q USING gone g
        WHERE (q.kindergarten_id, q.birth_year, q.language, q.group_type, q.tier_rank, q.day)
            = (g.kindergarten_id, g.birth_year, g.language, g.group_type, g.tier_rank, g.day)
            AND q.offers <= g.n;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER queue_offers_made AFTER INSERT ON offers REFERENCING NEW TABLE AS new_offers
    FOR EACH STATEMENT EXECUTE FUNCTION queue_offers_count();
CREATE TRIGGER queue_offers_removed AFTER DELETE ON offers REFERENCING OLD TABLE AS old_offers
    FOR EACH STATEMENT EXECUTE FUNCTION queue_offers_count();

INSERT INTO queue_offers
SELECT o.kindergarten_id, a.birth_year, a.language, a.group_type, o.tier_rank,
    (o.created_at AT TIME ZONE 'Asia/Almaty')::date, count(*)
FROM offers o JOIN applications a ON a.id = o.application_id
WHERE o.intake_run_id IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;
"""

DOWNGRADE = """
DROP TRIGGER queue_offers_made ON offers;
DROP TRIGGER queue_offers_removed ON offers;
DROP FUNCTION queue_offers_count;
DROP TABLE queue_offers;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(DOWNGRADE)
