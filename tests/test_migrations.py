"""The schema the migrations build is exactly the one the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import db


def test_migrations_match_the_models(transaction):
    from models.kernel.search import is_search_object

    context = MigrationContext.configure(transaction, opts={
        "compare_type": True,
        "include_object": lambda obj, name, type_, *_: not is_search_object(name, type_)})
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models changed without a migration: {diff}"
