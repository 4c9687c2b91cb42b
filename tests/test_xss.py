"""Hostile text in every text column of every model: it is shown escaped on every page
that shows it (list, details, edit, history, and the dashboard, late, standing, report
and recycle-bin pages), and exported as text a spreadsheet will not run as a formula.

Rows are poisoned in the database directly (every String/Text column, including those
no form offers), then saved once through the edit form, so the history page has the
payloads as old and new values too. The audit trail is append-only: its payloads arrive
in a new entry.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import String, Text
from sqlalchemy import inspect as sa_inspect

from models import db, declared_models, now
from models.kernel.audit import CHAINED, append
from models.kernel.declare import ChoiceType

from .factories import ensure_rows
from .probes import planted_client, read_form

HTML_PAYLOADS = ["<script>alert(1)</script>", '"onmouseover="alert(1)', "'><img src=x onerror=alert(1)>",
                 "javascript:alert(1)"]
FORMULA_PAYLOADS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "=1+1"]
PAYLOADS = HTML_PAYLOADS + FORMULA_PAYLOADS
# What must never appear as markup: the payloads' live parts, unescaped.
RAW = ["<script>alert(1)", '"onmouseover="alert(1)', "<img src=x onerror", 'href="javascript:alert',
       "'><img"]
FORMULA_MARKERS = ("HYPERLINK", "cmd|", "@SUM", "-2+3", "=1+1")

MODELS = [m for m in declared_models() if m.__tablename__ != "app_user"]


def text_columns(model: type) -> list:
    return [a.columns[0] for a in sa_inspect(model).column_attrs
            if a.columns[0].table is model.__table__ and isinstance(a.columns[0].type, (String, Text))
            and not isinstance(a.columns[0].type, ChoiceType) and not a.columns[0].primary_key
            and not a.columns[0].foreign_keys and not a.columns[0].info.get("secret")
            and not a.columns[0].info.get("upload") and not a.columns[0].info.get("internal")]


def poison(model: type, key, offset: int = 0, suffix: str = "") -> dict[str, str]:
    """Every text column of one row set to a payload that fits it (``suffix`` keeps
    names unique when many rows are poisoned)."""
    values = {}
    for n, column in enumerate(text_columns(model)):
        length = getattr(column.type, "length", None)
        fitting = [p + suffix for p in PAYLOADS if not length or len(p + suffix) <= length]
        if fitting:
            values[column.name] = fitting[(n + offset) % len(fitting)]
    if values and model.__admin__.perms.sealed:  # the audit trail: a new entry carries them
        entry = dict.fromkeys(CHAINED) | {"at": now(), "actor": "?", "action": "action"} | values
        append(db.session.connection(), [entry])
    elif values:
        pk = sa_inspect(model).primary_key[0]
        db.session.execute(db.update(model.__table__).where(pk == key).values(**values))
    return values


def assert_escaped(page: str, where: str) -> None:
    for raw in RAW:
        assert raw not in page, f"{where}: {raw!r} unescaped"


@pytest.fixture(scope="module")
def admin(app):
    return planted_client(app, "admin")


def first_listed(client, model: type):
    page = client.get(f"/admin/{model.__tablename__}/").text
    found = re.search(r"details/\?url=[^\"&]*&(?:amp;)?id=(\d+)", page)
    return int(found.group(1)) if found else None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_hostile_text_is_escaped_on_every_screen_and_neutralised_in_exports(app, admin, model):
    base = f"/admin/{model.__tablename__}/"
    with app.app_context():
        ensure_rows(model)  # the demo's, or made from the declaration: never skipped
    key = first_listed(admin, model)
    assert key is not None, f"{model.__name__}: a row exists but the list shows none"
    with app.app_context():
        values = poison(model, key)
        db.session.commit()
    assert values, f"{model.__name__} has no text column to write hostile text into"
    sealed = model.__admin__.perms.sealed
    if sealed:
        key = first_listed(admin, model)  # the poisoned entry, the newest; no form edits it
    else:  # a save through the form puts the payloads in the history as well
        form, kinds = read_form(admin.get(f"{base}edit/?id={key}").text)
        edited = {k: v + "改" for k, v in form.items() if kinds.get(k) in ("text", "textarea") and v in PAYLOADS}
        if edited:
            admin.post(f"{base}edit/?id={key}", {**form, **edited})

    shown = False
    for url in ("", f"details/?id={key}", *(() if sealed else (f"edit/?id={key}",)), f"history/?id={key}"):
        page = admin.get(base + url)
        assert page.status_code == 200, url
        assert_escaped(page.text, base + url)
        shown = shown or "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text \
            or "&#34;onmouseover=&#34;alert(1)" in page.text or "&#39;&gt;&lt;img" in page.text \
            or "javascript:alert(1)" in page.text
    assert shown or not set(values.values()) & set(HTML_PAYLOADS), "the payloads were not shown at all"
    if not model.__admin__.export:
        return

    rows = list(csv.reader(io.StringIO(admin.get(f"{base}export/csv/").data.decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row if any(m in c for m in FORMULA_MARKERS)]
    assert all(c.startswith("'") for c in cells), [c for c in cells if not c.startswith("'")]
    book = load_workbook(io.BytesIO(admin.get(f"{base}export/xlsx/").data))
    xcells = [c for row in book.worksheets[0].iter_rows(min_row=2) for c in row
              if isinstance(c.value, str) and any(m in c.value for m in FORMULA_MARKERS)]
    assert all(c.value.startswith("'") and c.data_type == "s" for c in xcells), \
        [c.value for c in xcells if not c.value.startswith("'")]
    assert bool(cells) == bool(xcells)
    if set(values.values()) & set(FORMULA_PAYLOADS):
        assert cells, "the formula payloads were not exported"


def test_hostile_names_are_escaped_on_the_pages_across_models(app, admin):
    """Every model's listed rows poisoned at once; the dashboard, the late and standing
    pages, the report, the rollout overview and the money trail show names of many."""
    with app.app_context():
        for n, model in enumerate(MODELS):
            pk = sa_inspect(model).primary_key[0]
            for key in db.session.scalars(db.select(pk).order_by(pk).limit(30)):
                poison(model, key, offset=n, suffix=f"#{key}")
        db.session.commit()
    for url in ("/admin/", "/admin/late/", "/admin/standing/", "/admin/report/", "/admin/rollout/",
                "/admin/money_trail/", "/admin/recycle/"):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert_escaped(page.text, url)
    community = planted_client(app, "community")
    for url in ("/admin/", "/admin/late/", "/admin/report/"):
        assert_escaped(community.get(url).text, f"{url} (community)")
