"""The schema the migrations build is exactly the one the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import db


def test_migrations_match_the_models(transaction):
    context = MigrationContext.configure(transaction, opts={"compare_type": True})
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models changed without a migration: {diff}"
