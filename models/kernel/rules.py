"""The rules every write obeys, whatever screen or loader makes it: a column's declared
range and what the database can store, then the model's own ``clean()`` — and the one
way a refused write is said (the field's label, in Chinese).

Forms, bulk actions, workflow steps and imports all call :func:`run_rules` (through
:func:`run_rules_on_session`), so a rule is written once, next to the data.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import BigInteger, Integer, Numeric, SmallInteger, String
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from .database import db
from .declare import Invalid, attr_info
from .paths import column_label


def run_rules(model: Any) -> None:
    """Column ranges from the declaration, then the model's own ``clean()``."""
    errors: dict[str, list[str]] = {}
    for attr in sa_inspect(type(model)).column_attrs:
        info = attr_info(attr)
        value = getattr(model, attr.key, None)
        if value is None or isinstance(value, bool):
            continue
        if "min" in info and value < info["min"]:
            errors.setdefault(attr.key, []).append(f"不能小于 {info['min']}")
        if "max" in info and value > info["max"]:
            errors.setdefault(attr.key, []).append(f"不能大于 {info['max']}")
        if info.get("money"):
            problem = money_problem(value)
            if problem:
                errors.setdefault(attr.key, []).append(problem)
        problem = storable_problem(attr.columns[0].type, value)
        if problem:
            errors.setdefault(attr.key, []).append(problem)
    if errors:
        raise Invalid(errors)
    clean = getattr(model, "clean", None)
    if callable(clean):
        clean()


# The largest integer each column type holds (PostgreSQL's; SQLite's 64 bits hold them all).
INTEGER_LIMITS = ((SmallInteger, 2 ** 15 - 1), (BigInteger, 2 ** 63 - 1), (Integer, 2 ** 31 - 1))


def storable_problem(column_type: Any, value: Any) -> str | None:
    """What the database would refuse — or SQLite silently keep — said before the write,
    so the message names the field instead of a bare database error: text longer than
    its column or holding NUL (PostgreSQL cannot store it), an integer beyond its column,
    a decimal with more digits than its column has."""
    from decimal import Decimal

    if isinstance(value, str):
        if "\x00" in value:
            return "不能包含空字符（\\0）"
        length = getattr(column_type, "length", None)
        if isinstance(column_type, String) and length and len(value) > length:
            return f"不能超过 {length} 个字符（现为 {len(value)} 个）"
    elif isinstance(value, int) and not isinstance(value, bool) and isinstance(column_type, Integer):
        limit = next(top for kind, top in INTEGER_LIMITS if isinstance(column_type, kind))
        if abs(value) > limit:
            return "数值超出可保存的范围"
    elif isinstance(value, (Decimal, float)) and isinstance(column_type, Numeric):
        amount = Decimal(str(value))
        if not amount.is_finite():
            return "不是有效的数字"
        precision, scale = column_type.precision, column_type.scale or 0
        if precision and amount.adjusted() >= precision - scale:
            return f"数值过大：整数部分最多 {precision - scale} 位"
    return None


def row_key(pk: Any, value: Any) -> Any:
    """A primary key from a request (a URL, a form, an ajax pick) — or ``None`` when it
    cannot be one: not a number, or beyond what the column holds (SQLite would raise
    OverflowError on the query, PostgreSQL "out of range for type integer", a 500);
    text with a NUL or longer than the column (an import job's id)."""
    try:
        key = pk.type.python_type(value)
    except (TypeError, ValueError, NotImplementedError):
        return None
    if isinstance(key, int):
        limit = next((top for kind, top in INTEGER_LIMITS if isinstance(pk.type, kind)), 2 ** 63 - 1)
        if abs(key) > limit:  # PostgreSQL refuses to compare an INTEGER with a bigger one
            return None
    elif isinstance(key, str) and storable_problem(pk.type, key):
        return None
    return key


def money_problem(value: Any) -> str | None:
    """An amount of yuan must be positive and have at most two decimals (分)."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "不是有效的金额"
    if amount <= 0:
        return "金额必须大于 0"
    if amount != amount.quantize(Decimal("0.01")):
        return "金额最多保留两位小数（精确到分）"
    return None


def run_rules_on_session(main: Any) -> None:
    """Rules of the main row, then of every other declared row the write touches
    (inline children, rows an action changed); errors name the row they belong to."""
    run_rules(main)
    for obj in list(db.session.new) + list(db.session.dirty):
        if obj is main or not hasattr(type(obj), "__admin__"):
            continue
        try:
            run_rules(obj)
        except Invalid as exc:
            exc.model = type(obj)
            exc.row = f"{type(obj).__admin__.label}「{obj}」"
            raise


def describe_invalid(exc: Invalid, model: type) -> str:
    return "；".join(f"「{column_label(model, k)}」{'、'.join(v)}" for k, v in exc.errors.items())


def integrity_message(exc: IntegrityError, model: type) -> str:
    """A violated constraint, said in Chinese with the label of its column.

    SQLite names ``estate.name``; PostgreSQL names the constraint (``uq_estate_name``,
    see the naming convention) and the column as ``(name)`` or ``"name"``.
    """
    text = str(exc.orig) if exc.orig is not None else str(exc)
    table = model.__tablename__
    mapper = sa_inspect(model)
    listed = re.search(r"Key \(([^)]*)\)=", text)  # PostgreSQL: Key (company_id, year)=(1, 2025)
    if listed:
        columns = [c.strip().strip('"') for c in listed.group(1).split(",")]
    else:
        columns = [a.columns[0].name for a in mapper.column_attrs
                   if re.search(rf'{table}\.{a.key}\b|\({a.key}\)|"{a.key}"|{table}_{a.key}\b', text)]
    labels = "、".join(f"「{_column_name_label(mapper, c)}」" for c in columns)
    lowered = text.lower()
    if "unique" in lowered or "duplicate" in lowered:
        return f"保存失败：{labels}与已有记录重复" if labels else "保存失败：与已有记录重复"
    if "not null" in lowered or "null value" in lowered:
        return f"保存失败：{labels}不能为空" if labels else "保存失败：有必填项为空"
    if "foreign key" in lowered:
        return "保存失败：引用的记录不存在或仍被其他记录使用"
    return "保存失败：数据不符合约束，未写入"


def _column_name_label(mapper: Any, column: str) -> str:
    """The label of a table column: its own, or its relation's for a foreign key
    (company_id reads 物业服务企业)."""
    for rel in mapper.relationships:
        if any(c.name == column for c in rel.local_columns) and rel.info.get("label"):
            return rel.info["label"]
    for attr in mapper.column_attrs:
        if attr.columns[0].name == column:
            return attr.columns[0].info.get("label", attr.key)
    return column
