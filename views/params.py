"""Request parameters, read in one place, so that a value no screen can use never reaches
a query — where PostgreSQL refuses a NUL, an integer past its column overflows, a date
whose next day or month does not exist raises — and every refusal is said the same way:

* what the user asked for but cannot be had (a date that does not exist, a search holding
  a NUL) is a 400 page naming the parameter, in Chinese (JSON for ajax look-ups);
* an id that cannot be one (not a number, past an integer key) is a 404, like a row
  outside the user's scope;
* where the user plainly meant the default — a page number below the first, an offset
  past the end, a choice the menu does not offer — the value is brought into range
  without a word. (A list drops a filter it does not have and says so on the page:
  ``engine.DeclaredModelView._get_list_filter_args``.)

Pages declare what they read (``query_args``); the same declaration tells
tests/test_fuzz_params.py what to send them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, NoReturn

from flask import abort, request
from werkzeug.exceptions import BadRequest

# Dates a screen accepts: wide enough for any record, narrow enough that the day after
# and the month after still exist.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
TEXT_MAX = 200          # characters of a search or a filter value
ID_MAX = 2 ** 31 - 1    # every registry's key is an INTEGER
MONTH = re.compile(r"(\d{4})-(\d{2})")

# A list's own arguments, and how far they reach
LIST_ARGS = ("page", "page_size", "sort", "desc", "search", "after", "before")
MAX_PAGE = 10_000_000      # page × page size stays an OFFSET both databases take
MAX_OFFSET = 1_000_000_000
CURSOR_MAX = 2000          # characters of a cursor token; the app's own are far shorter


class BadParameter(BadRequest):
    """A 400 whose description is the Chinese sentence its page shows (views.errors)."""


def refuse(message: str) -> NoReturn:
    raise BadParameter(description=message)


def text_problem(value: str, max_length: int = TEXT_MAX) -> str | None:
    if "\x00" in value:
        return "不能包含空字符（\\0）"
    if len(value) > max_length:
        return f"不能超过 {max_length} 个字符"
    return None


def checked_text(value: str | None, label: str, max_length: int = TEXT_MAX) -> str | None:
    """Typed text — a search — as it is, or a 400 saying why it cannot be searched for."""
    problem = text_problem(value, max_length) if value else None
    if problem:
        refuse(f"「{label}」{problem}")
    return value


def clamp(value: int | None, low: int, high: int, default: int) -> int:
    """A position — page, offset, limit — in range: below it is the first, past it the last."""
    return default if value is None else min(max(value, low), high)


def _raw(name: str) -> str | None:
    """The parameter, ``None`` when absent or blank (a cleared date field sends ``start=``)."""
    value = request.args.get(name)
    return (value.strip() or None) if value is not None else None


def arg_date(name: str, label: str) -> date | None:
    raw = _raw(name)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        refuse(f"「{label}」不是有效的日期，应为 年-月-日，如 2026-06-30")
    if not EARLIEST <= day <= LATEST:
        refuse(f"「{label}」应在 {EARLIEST} 到 {LATEST} 之间")
    return day


def arg_month(name: str, label: str) -> date | None:
    """A month as its first day."""
    raw = _raw(name)
    if raw is None:
        return None
    found = MONTH.fullmatch(raw)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        refuse(f"「{label}」不是有效的月份，应为 年-月，如 2026-06")
    month = date(int(found.group(1)), int(found.group(2)), 1)
    if not EARLIEST <= month <= LATEST:
        refuse(f"「{label}」应在 {EARLIEST:%Y-%m} 到 {LATEST:%Y-%m} 之间")
    return month


def arg_id(name: str) -> int | None:
    """The id of a row to show; 404 when it cannot be one."""
    raw = _raw(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= ID_MAX:
        abort(404)
    return int(raw)


def arg_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of a menu's values; anything else is its first (the default)."""
    value = request.args.get(name)
    return value if value in choices else choices[0]


@dataclass(frozen=True)
class Arg:
    """A query parameter a page reads: ``Arg("start", "开始日期", "date")``."""

    name: str
    label: str
    kind: str                       # "date", "month", "id" or "choice"
    choices: tuple[str, ...] = ()   # for "choice": the menu, the default first

    def read(self) -> Any:
        if self.kind == "date":
            return arg_date(self.name, self.label)
        if self.kind == "month":
            return arg_month(self.name, self.label)
        if self.kind == "id":
            return arg_id(self.name)
        if self.kind == "choice":
            return arg_choice(self.name, self.choices)
        raise ValueError(f"unknown kind of query parameter: {self.kind}")


def read_args(args: Iterable[Arg]) -> dict[str, Any]:
    """Every declared parameter of a page, read; the first bad one refuses the request."""
    return {arg.name: arg.read() for arg in args}
