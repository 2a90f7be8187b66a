"""The live pointer: which read-model version (schema) the query service serves.

Only in public: migrating another read-model version records this revision and does nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _in_public() -> bool:
    return context.config.attributes.get("read_model_schema", "public") == "public"


def upgrade() -> None:
    if not _in_public():
        return
    # One row at most (id is always true); no row means public and the configured group.
    op.execute(
        """
        CREATE TABLE public.readside_live_read_model (
            id BOOLEAN PRIMARY KEY DEFAULT true
                CONSTRAINT readside_live_read_model_one_row CHECK (id),
            schema_name TEXT NOT NULL,
            consumer_group TEXT NOT NULL,
            promoted_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    if _in_public():
        op.execute("DROP TABLE public.readside_live_read_model")
