"""Helpers for tests: a browser-like client, statement counting, row look-ups."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import event

from models import db

PASSWORD = "demo1234"


class Client:
    """A test client that works like a browser: it logs in through the login page and
    sends the CSRF token the pages carry."""

    def __init__(self, app) -> None:
        self.app = app
        self.http = app.test_client()
        self.token: str | None = None

    def login(self, username: str, password: str = PASSWORD) -> "Client":
        page = self.http.get("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        response = self.http.post("/login", data={"csrf_token": token, "username": username,
                                                  "password": password})
        assert response.status_code == 302, f"login as {username} failed: {flashes(response.text)}"
        self.refresh_token()
        return self

    def refresh_token(self) -> str:
        page = self.http.get("/admin/")
        self.token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
        return self.token

    def get(self, url: str, **kwargs: Any):
        return self.http.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, versioned: bool = True,
             **kwargs: Any):
        """POST as the browser would. An edit form always carries the version of the row
        it showed (the engine refuses an edit without one), so an edit posted here without
        ``row_version`` takes it from the form the user would have had open — read just
        now, as if the form had been opened the moment before saving. ``versioned=False``
        posts exactly what is given."""
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        if versioned and "row_version" not in data and re.search(r"/edit/\?(.*&)?id=", url):
            shown = re.search(r'name="row_version" type="hidden" value="([^"]*)"', self.http.get(url).text)
            if shown:
                data["row_version"] = shown.group(1)
        return self.http.post(url, data=data, **kwargs)


@contextmanager
def count_statements(app) -> Iterator[list[str]]:
    """Every SQL statement executed inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def row_id(app, model: type, **key: Any) -> int:
    with app.app_context():
        return db.session.scalar(db.select(model.id).filter_by(**key))


def transition(client: Client, endpoint: str, name: str, row: int, **params: Any):
    """Run a workflow transition through its screen, as a user would."""
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()}
    return client.post(f"/admin/{endpoint}/transition/{name}/?id={row}", data)


def flashes(page: str) -> list[str]:
    """The alert messages on a page, as text."""
    raw = re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S)
    return [re.sub(r"<[^>]+>|&times;", "", m).strip() for m in raw]


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown under the form field ``name`` (empty if none)."""
    group = re.search(rf'<div class="form-group[^"]*">\s*<label for="{re.escape(name)}"(.*?)</div>',
                      page, re.S)
    if group is None:
        raise AssertionError(f"no form field named {name!r} on the page")
    errors = re.search(r'<ul class="form-text text-danger[^"]*">(.*?)</ul>', group.group(1), re.S)
    return [m.strip() for m in re.findall(r"<li>(.*?)</li>", errors.group(1), re.S)] if errors else []


# -- spreadsheets --------------------------------------------------------------------------------


def xlsx(rows: list[list[Any]]) -> bytes:
    """A workbook of ``rows`` (the first being headers), as a file's bytes."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Client, endpoint: str, content: bytes, filename: str):
    """Upload a file on a model's import page, and follow to where it leads."""
    import io

    return client.post(f"/admin/{endpoint}/import/", {"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data", follow_redirects=True)


def problems(page: str) -> list[str]:
    """The problems an import page lists, without spaces."""
    listed = page.split('class="import-problems"')[-1].split("</ul>")[0]
    return [re.sub(r"\s+", "", p) for p in re.findall(r"<li>(.*?)</li>", listed, re.S)]
