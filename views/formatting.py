"""How values read on screen and in exports: Chinese yes/no, local dates, labels."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import inspect as sa_inspect

from models.kernel.declare import ChoiceType, Choices
from models.kernel.paths import column_label


def text(value: Any) -> str:
    """Plain text of any value, as a person in the office would write it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Choices):
        return value.label
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, (list, tuple, set)):
        return "、".join(text(v) for v in value)
    return str(value)


def _bool(view: Any, value: bool, name: str) -> Markup:
    css = "badge-success" if value else "badge-light"
    return Markup(f'<span class="badge {css}">{"是" if value else "否"}</span>')


def _plain(view: Any, value: Any, name: str) -> str:
    return text(value)


def _list(view: Any, value: list, name: str) -> str:
    return "、".join(text(v) for v in value)


def warning_flag(view: Any, context: Any, model: Any, name: str) -> Markup:
    """A flag that means something is wrong: red when raised."""
    if value_at(model, name):
        return Markup('<span class="badge badge-danger">是</span>')
    return Markup('<span class="text-muted">否</span>')


# Order matters: bool before int, datetime before date.
LIST_FORMATTERS = {
    type(None): lambda view, value, name: "",
    bool: _bool,
    datetime: _plain,
    date: _plain,
    Decimal: _plain,
    Choices: _plain,
    list: _list,
}


def value_at(obj: Any, path: str) -> Any:
    """``obj.community.name`` for ``"community.name"``; ``None`` part-way stops."""
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def describe_changes(model: type, changes: dict | None) -> list[tuple[str, str, str]]:
    """(label, old, new) rows of an audit entry, with codes turned into labels."""
    if not changes:
        return []
    mapper = sa_inspect(model)
    rows = []
    for key, pair in changes.items():
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        if key in mapper.column_attrs:
            ctype = mapper.column_attrs[key].columns[0].type
            if isinstance(ctype, ChoiceType):
                old = _choice_label(ctype, old)
                new = _choice_label(ctype, new)
        rows.append((column_label(model, key) if key in mapper.attrs else key,
                     _audit_text(old), _audit_text(new)))
    return rows


def _choice_label(ctype: ChoiceType, code: Any) -> Any:
    try:
        return ctype.choices(code).label if code else code
    except ValueError:
        return code


def _audit_text(value: Any) -> str:
    if value is True or value is False:
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "（无）"
    return "" if value is None else str(value)


def escape_text(value: Any) -> Markup:
    return escape(text(value))
