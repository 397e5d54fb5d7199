"""A choice's rank is checked for uniqueness at the end of each statement, so that a new ranking, or a hold,
is written to the choices in place by one UPDATE (swapped ranks collide only in the middle of it).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE choices DROP CONSTRAINT choices_pkey;
        ALTER TABLE choices ADD CONSTRAINT choices_pkey PRIMARY KEY (application_id, rank)
            DEFERRABLE INITIALLY IMMEDIATE;
        """
    )


def downgrade() -> None:
    run_script(
        """
        ALTER TABLE choices DROP CONSTRAINT choices_pkey;
        ALTER TABLE choices ADD CONSTRAINT choices_pkey PRIMARY KEY (application_id, rank);
        """
    )
