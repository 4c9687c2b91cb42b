"""Bad input everywhere: Hypothesis posts random and hostile values into the create and
edit forms of every declared model — huge strings, control characters and NUL, odd
Unicode, negative and huge numbers, impossible dates, unknown choice codes, ids that
are not ids — one field at a time on top of a form that would save.

Whatever comes in: never a 500; nothing half-written (a refusal leaves the row and the
table as they were, a success adds exactly one row or changes only that one); and a
refusal says, in Chinese, which field is wrong. Each example runs inside a savepoint
that is rolled back, so examples never see each other's rows.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect as sa_inspect

from models import db, declared_models

from .helpers import flashes
from .factories import ensure_rows
from .probes import count, planted_client, read_form, snapshot

MODELS = [m for m in declared_models() if m.__admin__.perms.allows("admin", "create")
          and m.__tablename__ != "audit_log"]

HOSTILE = st.one_of(
    st.text(min_size=201, max_size=3000),                                   # longer than any column
    st.text(alphabet=st.characters(max_codepoint=0x1f), min_size=1, max_size=20),  # control characters
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=5), st.text(max_size=5)),  # NUL
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50),  # any Unicode
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.sampled_from(["-1", "0", "1e309", "NaN", "-inf", "9" * 40, "0.0000001", "1,5", "１２"]),
    st.sampled_from(["2026-02-30", "0000-00-00", "99999-01-01", "2026-13-01", "昨天",
                     "2026-01-01T25:61", "1-1-1"]),
    st.sampled_from(["nonexistent", "FIRST", "一类 ", "' OR 1=1 --", "<b>", "999999999",
                     "-5", "abc", "1;2", "%00", "[1]"]),
)


def hypothesis_settings():
    # no shrinking: a failure prints its field and value, and the run stays bounded
    return settings(max_examples=10, deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def admin(app):
    return planted_client(app, "admin")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def label_of(page: str, name: str) -> str | None:
    found = re.search(rf'<label for="{re.escape(name)}"[^>]*>\s*([^<]+?)\s*(?:<|$)', page)
    return found.group(1).strip() if found else None


def field_messages(page: str, name: str) -> list[str]:
    """Error messages shown under one field (Flask-Admin puts them after the input)."""
    group = re.search(rf'<label for="{re.escape(name)}".*?(?=<div class="form-group|</form>)', page, re.S)
    if group is None:
        return []
    errors = re.search(r'<ul class="form-text text-danger[^"]*">(.*?)</ul>', group.group(0), re.S)
    return [m.strip() for m in re.findall(r"<li>(.*?)</li>", errors.group(1), re.S)] if errors else []


def explained(page: str, name: str) -> bool:
    """The refusal names the field: a Chinese message under it, or a Chinese message
    quoting its label."""
    if any(has_chinese(m) for m in field_messages(page, name)):
        return True
    label = label_of(page, name)
    return label is not None and any(has_chinese(f) and f"「{label}」" in f for f in flashes(page))


def said_why(page: str) -> bool:
    """Some Chinese message naming a field or a record: 「…」."""
    return any(has_chinese(f) and "「" in f for f in flashes(page)) or \
        bool(re.search(r'<ul class="form-text text-danger[^"]*">\s*<li>[^<]*[\u4e00-\u9fff]', page))


def blamed(page: str, name: str, names: list[str], kinds: dict[str, str]) -> bool:
    """A refusal of a form that saves untouched is this field's fault: the message names
    it — or names the record, or the record it belongs to (an inspection already
    accepted locks its items) — never another field of the form."""
    if explained(page, name):
        return True
    label = label_of(page, name)
    bare = re.sub(r"（[^）]*）$", "", label or "\0")  # 参与表决面积（㎡） is named 参与表决面积
    messages = [f for f in flashes(page) if has_chinese(f)]
    if any(bare in f for f in messages):
        return True
    others = {label_of(page, n) for n in names
              if n != name and not kinds.get(n, "").startswith(("select", "ajax", "hidden"))} - {None}
    return any("「" in f for f in messages) and not any(f"「{o}」" in f for f in messages for o in others)


BASELINE: dict[tuple[str, bool], bool] = {}


def saves_untouched(transaction, client: Any, url: str, form: dict, key: tuple[str, bool]) -> bool:
    """Whether the form saves as it is (a demo row re-saved, or a copy of it created):
    if not — a duplicate name, a record already closed — a refusal cannot be blamed on
    the fuzzed field, and only has to say why in Chinese."""
    if key not in BASELINE:
        nested = transaction.begin_nested()
        try:
            BASELINE[key] = client.post(url, form).status_code == 302
        finally:
            nested.rollback()
    return BASELINE[key]


def fuzz(app, transaction, client: Any, model: type, data: Any, creating: bool) -> None:
    base = f"/admin/{model.__tablename__}/"
    with app.app_context():
        key = ensure_rows(model)[0]  # the demo's, or made from the declaration: never skipped
    page = client.get(f"{base}edit/?id={key}")
    assert page.status_code == 200
    form, kinds = read_form(page.text)
    if creating:
        form.pop("row_version", None)
        form = {k: (v + "乙" if kinds.get(k) in ("text", "textarea") and isinstance(v, str) and v else v)
                for k, v in form.items()}
    names = sorted(n for n in kinds if n not in ("row_version", "csrf_token") and "-" not in n)
    assert names, f"{model.__name__}: its form has no field"

    url = f"{base}new/" if creating else f"{base}edit/?id={key}"
    clean = saves_untouched(transaction, client, url, form, (model.__name__, creating))
    name = data.draw(st.sampled_from(names), label="field")
    value = data.draw(HOSTILE, label="value")
    nested = transaction.begin_nested()
    try:
        with app.app_context():
            before_count, before_row = count(model), snapshot(model, key)
        response = client.post(url, {**form, name: value})
        text = response.get_data(as_text=True)
        assert response.status_code in (200, 302), f"{response.status_code} for {name}={value!r}"
        with app.app_context():
            after_count, after_row = count(model), snapshot(model, key)
        if response.status_code == 302:  # saved: exactly one row more, or this one changed
            assert after_count == before_count + (1 if creating else 0), (name, value)
            assert not [f for f in flashes(client.get("/admin/").text) if "未完成" in f or "失败" in f]
        else:  # refused: nothing written, and the field named
            assert after_count == before_count, (name, value)
            assert after_row == before_row, (name, value)
            assert (blamed(text, name, names, kinds) if clean else said_why(text)), (
                f"{name}={value!r} refused without naming the field: {flashes(text)} {field_messages(text, name)}")
    finally:
        nested.rollback()


@pytest.mark.parametrize("creating", [False, True], ids=["edit", "create"])
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@hypothesis_settings()
@given(data=st.data())
def test_hostile_values_in_every_form(app, transaction, admin, model, creating, data):
    fuzz(app, transaction, admin, model, data, creating)
