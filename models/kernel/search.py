"""Indexed search for every model that declares ``search``, with Chinese text in mind.

Chinese has no spaces, and a LIKE '%漏水%' reads every row. So each searchable model
keeps a *search document* — its declared search columns cut into tokens — in a column
the engine adds (``search_doc``), indexed by the database's own full-text index:

* runs of Chinese characters become overlapping pairs plus the run's last character
  ("厨房漏水" → 厨房 房漏 漏水 水), so any substring of two or more characters is a
  phrase of consecutive pairs and any single character is a prefix of some token;
* runs of letters and digits become one token each ("1380013", "3"), matched by prefix
  (a phone number by its first digits).

SQLite answers from an FTS5 table kept in step by triggers; PostgreSQL from a GIN
index on the tokens as a ``tsvector``. A query also keeps Flask-Admin's meaning (every
term appears in some searched column) by a LIKE check on the few rows the index found.

The column is declared once, by ``search=`` on the model; the migration creates the
index objects (:func:`ensure_index`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable, Iterable

from sqlalchemy import Text, event, literal_column, or_, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, column_property
from sqlalchemy.schema import Column

COLUMN = "search_doc"
# a CJK ideograph run, or a run of letters/digits (after NFKC: full-width → half-width)
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _runs(value: str) -> list[str]:
    return _RUN.findall(unicodedata.normalize("NFKC", value).lower())


def tokens(value: str | None) -> list[str]:
    """The tokens of one text, in order."""
    out: list[str] = []
    for run in _runs(value or ""):
        if _CJK.match(run):
            out += [run[i:i + 2] for i in range(len(run) - 1)]
            out.append(run[-1])
        else:
            out.append(run)
    return out


def document(values: Iterable[Any]) -> str:
    return " ".join(t for v in values if v is not None for t in tokens(str(v)))


def search_fields(model: type) -> tuple[str, ...]:
    spec = getattr(model, "__admin__", None)
    return tuple(spec.search) if spec is not None else ()


def document_for(model: type) -> Callable[[dict[str, Any]], str] | None:
    """For bulk loaders: the document of a row given as a dict of column values."""
    names = search_fields(model)
    if not names or COLUMN not in model.__table__.c:
        return None
    return lambda row: document(row.get(n) for n in names)


# -- the column, added to every model with ``search`` ----------------------------------------


def attach(models: Iterable[type]) -> None:
    """Add ``search_doc`` to each searchable model's table and mapper, and keep it filled."""
    for model in models:
        if not search_fields(model) or COLUMN in model.__table__.c:
            continue
        column = Column(COLUMN, Text, nullable=True, info={"internal": True})
        model.__table__.append_column(column)
        model.__mapper__.add_property(COLUMN, column_property(column, deferred=True))


@event.listens_for(Session, "before_flush")
def _fill_documents(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.new) + list(session.dirty):
        names = search_fields(type(obj))
        if not names or COLUMN not in type(obj).__table__.c:
            continue
        state = sa_inspect(obj)
        if obj in session.new or any(state.attrs[n].history.has_changes() for n in names):
            setattr(obj, COLUMN, document(getattr(obj, n) for n in names))


# -- queries -----------------------------------------------------------------------------------


def _terms(search: str) -> list[str]:
    return [t for t in search.split() if t]


def _fts_query(search: str) -> str | None:
    """FTS5 MATCH text: phrases of pairs for Chinese, prefixes for letters and digits."""
    parts = []
    for run in _runs(search):
        if _CJK.match(run):
            pairs = [run[i:i + 2] for i in range(len(run) - 1)]
            parts.append(f'"{" ".join(pairs)}"' if pairs else f'"{run}"*')
        else:
            parts.append(f'"{run}"*')
    return " AND ".join(parts) or None


def _ts_query(search: str) -> str | None:
    """PostgreSQL tsquery text over the same tokens (positions are not kept: the pairs are
    ANDed, and the LIKE check restores the order)."""
    parts = []
    for run in _runs(search):
        if _CJK.match(run):
            pairs = [run[i:i + 2] for i in range(len(run) - 1)]
            parts += [f"'{p}'" for p in pairs] if pairs else [f"'{run}':*"]
        else:
            parts.append(f"'{run}':*")
    return " & ".join(parts) or None


def search_clause(model: type, search: str, dialect: str) -> Any:
    """A WHERE clause for the list's search box, answered from the index."""
    names = search_fields(model)
    table = model.__table__
    columns = [getattr(model, n) for n in names]
    # the index holds normalised text (full-width digits as ASCII…); the check accepts the
    # term as typed or normalised, whichever the stored text has
    like = [or_(*[c.ilike(f"%{_escape(form)}%", escape="\\") for c in columns
                  for form in dict.fromkeys((term, unicodedata.normalize("NFKC", term)))])
            for term in _terms(search)]
    if COLUMN not in table.c:  # a model added after start-up (tests): no index to ask
        return _and(like)
    if dialect == "sqlite":
        query = _fts_query(search)
        if query is None:
            return _and(like)
        fts = f"{table.name}_fts"
        found = select(literal_column("rowid")).select_from(text(fts)).where(
            text(f"{fts} MATCH :fts_query").bindparams(fts_query=query))
        return _and([model.id.in_(found), *like])
    if dialect == "postgresql":
        query = _ts_query(search)
        if query is None:
            return _and(like)
        vector = text(f"array_to_tsvector(string_to_array(coalesce({table.name}.{COLUMN}, ''), ' '))"
                      " @@ CAST(:ts_query AS tsquery)").bindparams(ts_query=query)
        return _and([vector, *like])
    return _and(like)


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _and(clauses: list[Any]) -> Any:
    from sqlalchemy import and_, true

    return and_(*clauses) if clauses else true()


# -- the index objects, created by the migrations ---------------------------------------------


def ensure_index(connection: Any, table: str) -> None:
    """Create the index of ``table.search_doc`` if it is missing, filled from the rows.

    Idempotent, and run after every upgrade (migrations/env.py) as well as by the
    migration that introduced it: on SQLite, a later migration that alters the table
    in batch mode copies it and drops its triggers with the old copy."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        fts = f"{table}_fts"
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (fts,)).first()
        if not exists:
            connection.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {fts} USING fts5({COLUMN}, content='{table}', content_rowid='id')")
        for statement in (
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {COLUMN}) VALUES (new.id, new.{COLUMN}); END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {COLUMN}) VALUES ('delete', old.id, old.{COLUMN}); END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {COLUMN} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {COLUMN}) VALUES ('delete', old.id, old.{COLUMN}); "
            f"INSERT INTO {fts}(rowid, {COLUMN}) VALUES (new.id, new.{COLUMN}); END",
        ):
            connection.exec_driver_sql(statement)
        if not exists:
            connection.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    elif dialect == "postgresql":
        connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS ix_{table}_{COLUMN} ON {table} USING gin "
            f"(array_to_tsvector(string_to_array(coalesce({COLUMN}, ''), ' ')))")


def ensure_indexes(connection: Any) -> None:
    """Every searchable table of the current models (after an upgrade)."""
    from .registry import declared_models

    names = set(sa_inspect(connection).get_table_names())
    for model in declared_models():
        if search_fields(model) and model.__tablename__ in names and COLUMN in {
                c["name"] for c in sa_inspect(connection).get_columns(model.__tablename__)}:
            ensure_index(connection, model.__tablename__)


def drop_index_sql(table: str, dialect: str) -> list[str]:
    if dialect == "sqlite":
        fts = f"{table}_fts"
        return [f"DROP TRIGGER IF EXISTS {fts}_{s}" for s in ("ai", "ad", "au")] + \
               [f"DROP TABLE IF EXISTS {fts}"]
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS ix_{table}_{COLUMN}"]
    return []


def backfill(connection: Any, table: str, fields: tuple[str, ...]) -> None:
    """Fill ``search_doc`` of rows that existed before the column (run by a migration)."""
    rows = connection.execute(text(f"SELECT id, {', '.join(fields)} FROM {table}")).all()
    for row in rows:
        connection.execute(text(f"UPDATE {table} SET {COLUMN} = :doc WHERE id = :id"),
                           {"doc": document(row[1:]), "id": row[0]})


def is_search_object(name: str | None, type_: str) -> bool:
    """FTS tables, their shadow tables and the GIN indexes live outside the models'
    metadata; the migration comparison leaves them alone."""
    if not name:
        return False
    return (type_ == "table" and "_fts" in name) or (type_ == "index" and name.endswith(f"_{COLUMN}"))
