"""Trusted documents: operations a channel registered, by SHA-256 of their text.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from persistence.migrations.script import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE trusted_documents (
            sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            document text NOT NULL,
            name text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE trusted_documents; DROP INDEX idempotency_keys_created;")
