"""Shared by the probes (access matrix, XSS, form fuzz): clients logged in once per
module, the form a page shows read back as the data a browser would post, and a
snapshot of a row to prove that a refused write changed nothing."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import inspect as sa_inspect

from models import db
from seeds.demo import ACCOUNTS as DEMO_ACCOUNTS

from .helpers import Client

# The demo accounts: one per role, station staff once per station — a new one is probed too.
ACCOUNTS = tuple(username for username, *_ in DEMO_ACCOUNTS)


def planted_client(app, username: str) -> Client:
    """A client with the session a login plants, without the deliberately slow password
    check (the login page itself is tested in test_auth/test_security). The demo accounts'
    session tokens are committed with the demo, so the session outlives each test's rollback."""
    from views.auth import plant_login

    client = Client(app)
    plant_login(app, client.http, username, keep=False)
    client.refresh_token()
    return client


class FormReader(HTMLParser):
    """The fields of the largest POST ``<form>`` holding a CSRF token (not the log-out
    button's): what the browser would send if the user pressed save untouched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self.kinds: dict[str, str] = {}
        self.forms: list[tuple[dict[str, list[str]], dict[str, str]]] = []
        self.depth = 0
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.depth += 1
            self.data, self.kinds = {}, {}
            return
        if not self.depth:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                self.kinds.setdefault(name, kind)
                return
            self.data.setdefault(name, []).append(a.get("value", "y" if kind == "checkbox" else ""))
            self.kinds[name] = a.get("data-role") or kind
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
            self.kinds[name] = "select-multiple" if "multiple" in a else "select"
            self.data.setdefault(name, [])
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.data[self._select].append(value)
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []
            self.kinds[name] = "textarea"

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self._select_chosen and self.kinds[self._select] == "select" and self._select_first is not None:
                self.data[self._select].append(self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.setdefault(self._textarea, []).append("".join(self._text).lstrip("\n"))
            self._textarea = None
        elif tag == "form" and self.depth:
            if "csrf_token" in self.data:
                self.forms.append((self.data, self.kinds))
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def read_form(html: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(data to post, kind of each field) of the page's form."""
    reader = FormReader()
    reader.feed(html)
    assert reader.forms, "no form on the page"
    fields, kinds = max(reader.forms, key=lambda form: len(form[0]))
    data: dict[str, Any] = {}
    for name, values in fields.items():
        if name == "csrf_token":
            continue
        data[name] = values if len(values) != 1 else values[0]
    return data, kinds


def snapshot(model: type, key: Any) -> dict[str, Any] | None:
    """Every column of one row as stored, read fresh (``None`` if it is gone)."""
    table = model.__table__
    pk = sa_inspect(model).primary_key[0]
    row = db.session.execute(db.select(table).where(pk == key)).mappings().one_or_none()
    return dict(row) if row is not None else None


def count(model: type) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model.__table__))


def list_count(page: str) -> int:
    """The total Flask-Admin prints on the list tab: "列表 (1,671)"."""
    found = re.search(r'class="nav-link active">[^<(]*\(([\d,]+)\+?\)</a>', page)
    if found is None:  # an empty list prints no count
        assert '<td class="col-' not in page, "no count on a list with rows"
        return 0
    return int(found.group(1).replace(",", ""))
