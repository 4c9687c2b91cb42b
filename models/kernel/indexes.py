"""Indexes that follow from the declarations: what a list filters and sorts on is indexed.

Declared once — ``filters=`` and ``sort=`` on the model — and created by the migrations
(the migration test fails when a declaration gains a filter without one):

* each filtered column, and the foreign key of each filtered relation;
* the default sort, with the primary key as the tie-breaker (keyset pages walk it);
* the scope's foreign key followed by the default sort, so a community's or an estate's
  page of a large table is read in order rather than sorted;
* each clock's state (or stop time) followed by its deadline, for "what is late now".

An index whose leading columns an existing index (or unique constraint) already covers is
not added twice, and a plain index that merely begins a longer one is dropped.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Index

from .paths import find


def _local_column(model: type, name: str) -> Any:
    """The model's own column a declared name stands for (a many-to-one relation: its key)."""
    found = find(model, name)
    return found.local_column() if found is not None else None


def _covered(table: Any, columns: list[Any]) -> bool:
    names = [c.name for c in columns]
    existing = [[c.name for c in ix.columns] for ix in table.indexes]
    existing += [[c.name for c in con.columns] for con in table.constraints if hasattr(con, "columns")]
    return any(e[: len(names)] == names for e in existing if e)


def wanted(model: type) -> list[tuple[list[Any], list[Any]]]:
    """(columns to index, leading columns an existing index must have to cover them)."""
    spec = model.__admin__
    table = model.__table__
    pk = list(table.primary_key.columns)
    out: list[tuple[list[Any], list[Any]]] = []
    for name in spec.filters:
        column = _local_column(model, name)
        if column is not None and not column.primary_key:
            out.append(([column], [column]))
    sorts = (spec.sort,) if isinstance(spec.sort, str) else tuple(spec.sort or ())
    sort_columns = [_local_column(model, s.lstrip("-")) for s in sorts]
    if sort_columns and all(c is not None for c in sort_columns):
        # ending in the key: a page (and a deep OFFSET) is read from the index alone
        key = [*sort_columns, *[c for c in pk if c not in sort_columns]]
        out.append((key, key))
        scope = spec.scope if isinstance(spec.scope, str) else None
        anchor = _local_column(model, scope) if scope else None
        if anchor is not None and not anchor.primary_key and anchor not in sort_columns:
            scoped = [anchor, *key]  # the rows of a street or an estate, from the index alone
            out.append((scoped, scoped))
    # each running clock is found by its state (or its unset stop time), then its deadline:
    # "what is late now" reads the few open rows, not every row ever past its deadline
    workflow = getattr(spec, "workflow", None)
    for clock in getattr(workflow, "clocks", ()):
        columns = [_local_column(model, clock.state_field) if clock.states else None,
                   _local_column(model, clock.stop) if clock.stop else None,
                   _local_column(model, clock.due)]
        columns = [c for c in columns if c is not None]
        if len(columns) > 1:  # counting the late ones reads the index alone
            out.append((columns, columns))
    return out


def declare_indexes(models: Iterable[type]) -> None:
    for model in models:
        table = model.__table__
        for columns, prefix in wanted(model):
            if not _covered(table, prefix):
                Index(None, *columns)  # named by the metadata's naming convention
        _drop_redundant(table)


def _drop_redundant(table: Any) -> None:
    """A plain index whose columns begin a longer one is redundant: the longer serves its
    look-ups too, and every write would pay for both."""
    longer = [[c.name for c in ix.columns] for ix in table.indexes]
    for ix in list(table.indexes):
        names = [c.name for c in ix.columns]
        if not ix.unique and any(len(o) > len(names) and o[: len(names)] == names for o in longer):
            table.indexes.discard(ix)
