"""Hostile query parameters everywhere: Hypothesis sends NUL, huge and negative numbers,
overlong text, odd Unicode, dates that do not exist, junk cursors and filter codes no list
has to every parameter of every screen that reads one — the lists (search, page, page
size, sort, direction, every declared filter, cursors), their exports, ajax look-ups,
import pages, record pages, and the pages across models (whose ``query_args`` say what
they read) — as several roles.

The screens come from the app's URL map: a new kind of endpoint that this module does not
know fails the coverage test until it is taught its parameters. Whatever is sent: the
answer is 200, 302, 400, 403 or 404, never a traceback; an error page says why in Chinese;
every response has the security headers; an export either refuses before its first byte
(400) or is complete.

Then each finding of the hardening review, one by one (they failed before the fix).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from models import db
from views.engine import DeclaredModelView
from views.engine.exports import FAILED, INTERRUPTED

from .probes import planted_client

ROLES = ("admin", "street", "community", "committee")
ALLOWED = {200, 302, 400, 403, 404}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Cache-Control")

# -- what to send ----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


JSON_VALUES = st.one_of(
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["\x00", "a\x00b", "0000-00-00", "9999-12-31T23:59:59", "2026-02-30", "NaN",
                     "Infinity", "1e999999", "first", "nonexistent", "x" * 300]),
    st.booleans(), st.none(), st.just([1, [2]]), st.just({"a": 1}),
)
CURSORS = st.one_of(
    st.lists(JSON_VALUES, max_size=4).map(lambda v: b64(json.dumps(v).encode())),
    st.binary(max_size=48).map(b64),
    st.sampled_from(["!!!", "=", "W10", "WyJ", "eyJhIjoxfQ", "W1tbW1tbW1tbW1tbW1tbW1tbW1tbXV1dXV1dXV1dXV1dXV1dXV1dXV1d"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),                       # huge, negative
    st.sampled_from(["-1", "0", "1", "2", "9" * 25, "1e309", "NaN", "-inf", "１２", "0x10", " 3 ", "1.5"]),
)
TEXTS = st.one_of(
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=5), st.text(max_size=5)),       # NUL
    st.text(min_size=201, max_size=2000),                                                 # overlong
    st.text(alphabet=st.characters(max_codepoint=0x1f), min_size=1, max_size=10),          # control characters
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),            # any Unicode
    st.sampled_from(["\u202e\u0301", "\ufeff", "😀" * 40, "％００", "\u3000", "\uffff", "%", "_", "\\"]),
)
DATES = st.one_of(
    st.sampled_from(["9999-12-31", "0001-01-01", "9999-12", "0001-01"]),  # the ends of the calendar
    st.sampled_from([
        "0000-00-00", "2026-02-30", "1899-12-31", "3000-01-01", "0000-01", "2026-13", "2026-00", "2026-6",
        "２０２６-０１", "2026-01-01T25:61", "2026-01-01 to 2026-02-30", "2026-01-01 to 2025-01-01",
        "0001-01-01 to 9999-12-31", "9999-12-31 23:59:59", "0001-01-01 00:00:00 to 9999-12-31 23:59:59",
        "2026-06-30", "2026-06"]),
)
CODES = st.sampled_from(["nonexistent", "FIRST", "' OR 1=1 --", "<b>", "%00", "[1]", "1;2", "../../etc",
                         "flt0_99", "all", "csv", "estate", "street", "1", "0"])
HOSTILE = st.one_of(NUMBERS, TEXTS, DATES, CURSORS, CODES, st.just(""))
# A parameter gets values of its own kind half the time, anything the other half.
FOCUS = {"number": NUMBERS, "text": TEXTS, "date": DATES, "cursor": CURSORS, "code": CODES}
ARG_KINDS = {"date": "date", "month": "date", "id": "number", "choice": "code"}  # views.params.Arg kinds


def values_for(kind: str) -> Any:
    return st.one_of(FOCUS[kind], HOSTILE) if kind in FOCUS else HOSTILE
UNKNOWN_FILTERS = {name: "any" for name in ("flt0_99999", "flt3_zz", "flt_0", "fltx", "flt９_0", "flt0_")}
JUNK_PARAM = {"zz": "any"}  # a parameter no screen reads


# -- where to send it: the GET endpoints of the URL map ---------------------------------------

LIST_PARAMS = {"search": "text", "page": "number", "page_size": "number", "sort": "number", "desc": "number",
               "after": "cursor", "before": "cursor"}
AJAX_PARAMS = {"name": "code", "query": "text", "offset": "number", "limit": "number"}
RECORD_PARAMS = {"id": "number", "url": "text", "column": "code"}
# Model endpoints reading the parameters of a record (or none): the id, the way back, a file column
RECORD_ENDPOINTS = {"details_view", "edit_view", "create_view", "history_view", "print_view", "file_view",
                    "transition_view", "import_view", "import_template_view"}
GROUPS = ("list", "export", "ajax", "import", "record", "page")


@dataclass(repr=False)
class Target:
    group: str
    rule: str
    params: dict[str, str]  # name -> kind of value
    path: dict[str, Any] = field(default_factory=dict)  # path argument -> strategy of its values

    def __repr__(self) -> str:
        return self.rule


def targets(app) -> tuple[list[Target], list[str]]:
    """Every GET endpoint under /admin/ with the parameters it reads, and the rules this
    module does not know how to probe."""
    views = {view.endpoint: view for view in app.extensions["admin"][0]._views}
    found, unknown = [], []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/admin/"):
            continue
        endpoint, _, method = rule.endpoint.rpartition(".")
        view = views.get(endpoint)
        if method == "static" or view is None:
            continue
        if not isinstance(view, DeclaredModelView):
            declared = {a.name: ARG_KINDS[a.kind] for a in getattr(view, "query_args", ())}
            found.append(Target("page", rule.rule, {**declared, **JUNK_PARAM}))
            continue
        with app.test_request_context():
            filters = {f"flt0_{key}": filter_kind(flt) for key, (_, flt) in (view._filter_args or {}).items()}
        if method == "index_view":
            found.append(Target("list", rule.rule, {**LIST_PARAMS, **filters, **UNKNOWN_FILTERS}))
        elif method == "export":
            kinds = st.one_of(st.sampled_from(view.export_types), HOSTILE)
            found.append(Target("export", rule.rule, {**LIST_PARAMS, **filters, **UNKNOWN_FILTERS},
                                {"export_type": kinds}))
        elif method == "ajax_lookup":
            names = list(view._form_ajax_refs or {}) or ["none"]
            found.append(Target("ajax", rule.rule, AJAX_PARAMS, {"_name": st.sampled_from(names)}))
        elif method in ("import_job_view", "import_status_view"):
            if not view.spec.importable:  # 404 before the id is read
                continue
            ids = st.one_of(values_for("text"), st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
            found.append(Target("import", rule.rule, JUNK_PARAM, {"job_id": ids}))
        elif method in RECORD_ENDPOINTS:
            path = {}
            if "<step>" in rule.rule:
                workflow = getattr(view.spec, "workflow", None)
                steps = [t.name for t in workflow.transitions] if workflow else []
                path["step"] = st.sampled_from(steps) if steps else HOSTILE
            found.append(Target("record", rule.rule, RECORD_PARAMS, path))
        else:
            unknown.append(rule.rule)
    return found, unknown


def filter_kind(flt: Any) -> str:
    from flask_admin.model import filters as base

    if isinstance(flt, (base.BaseDateFilter, base.BaseDateBetweenFilter, base.BaseDateTimeFilter,
                        base.BaseDateTimeBetweenFilter)):
        return "date"
    if isinstance(flt, (base.BaseIntFilter, base.BaseFloatFilter)):
        return "number"
    return "code" if flt.options else "text"


class Quiet(dict):
    """A fixture's value that Hypothesis prints briefly when an example fails (the draws
    say what was sent)."""

    def __repr__(self) -> str:
        return f"<{', '.join(self)}>"


@pytest.fixture(scope="module")
def probe(app):
    found, _ = targets(app)
    return Quiet({group: [t for t in found if t.group == group] for group in GROUPS})


@pytest.fixture(scope="module")
def clients(app):
    return Quiet({role: planted_client(app, role) for role in ROLES})


def test_every_admin_endpoint_is_probed(app):
    found, unknown = targets(app)
    assert not unknown, f"teach tests/test_fuzz_params.py the parameters of: {unknown}"
    groups = {t.group for t in found}
    assert groups == set(GROUPS), groups
    pages = {t.rule for t in found if t.group == "page"}
    for rule in ("/admin/", "/admin/late/", "/admin/standing/", "/admin/rollout/", "/admin/money_trail/",
                 "/admin/report/", "/admin/report/pdf/", "/admin/recycle/"):
        assert rule in pages, rule


# -- what must hold whatever was sent -----------------------------------------------------------


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def export_complete(response) -> bool:
    """An export that began is whole: its last line is not the note of a broken-off file."""
    if response.mimetype == "text/csv":
        lines = response.get_data().decode("utf-8-sig").strip().splitlines()
        return not lines or lines[-1] not in (INTERRUPTED, FAILED)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    last = None
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            last = row
    return last is None or last[0] not in (INTERRUPTED, FAILED)


def check(response, url: str) -> None:
    body = response.get_data().decode("utf-8", "replace")
    assert response.status_code in ALLOWED, f"{response.status_code} for {url!r}"
    assert "Traceback" not in body, url
    missing = [h for h in SECURITY_HEADERS if h not in response.headers]
    assert not missing, f"{missing} missing on {response.status_code} for {url!r}"
    if response.status_code >= 400:
        said = response.json.get("message", "") if response.is_json else body
        assert has_chinese(said), f"{response.status_code} for {url!r} without a Chinese message"
    if response.status_code == 200 and "/export/" in url:
        assert export_complete(response), f"export broke off half-way for {url!r}"


def hypothesis_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def build_url(target: Target, data: Any) -> str:
    path = target.rule
    params: dict[str, str] = {}
    for name, values in target.path.items():
        value = data.draw(values, label=name)
        if name.startswith("_"):  # a query parameter the endpoint needs a valid value of
            params[name[1:]] = value
        else:
            path = path.replace(f"<{name}>", quote(value, safe="") or "x")
    for name in data.draw(st.lists(st.sampled_from(sorted(target.params)), min_size=1, max_size=3, unique=True),
                          label="parameters"):
        params[name] = data.draw(values_for(target.params[name]), label=name)
    return f"{path}?{urlencode(params)}"


# Examples per role and group: 4 × 6 × 40 requests per database (about 30 seconds).
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("role", ROLES)
@hypothesis_settings(examples=40)
@given(data=st.data())
def test_hostile_parameters_never_break_a_screen(clients, probe, role, group, data):
    target = data.draw(st.sampled_from(probe[group]), label="endpoint")
    url = build_url(target, data)
    check(clients[role].get(url), url)


# -- the findings, one by one ------------------------------------------------------------------

NUL_CURSOR = b64(json.dumps(["\x00", 1]).encode())
HUGE_CURSOR = b64(json.dumps([10 ** 20, 10 ** 20]).encode())


@pytest.fixture
def admin(clients):
    return clients["admin"]


def error_text(response) -> str:
    return response.json["message"] if response.is_json else response.text


@pytest.mark.parametrize("url, status, said", [
    ("/admin/estate/?search=%00", 400, "「搜索内容」不能包含空字符"),
    ("/admin/estate/?search=" + "漏" * 201, 400, "「搜索内容」不能超过 200 个字符"),
    ("/admin/estate/ajax/lookup/?name=community&query=%00", 400, "「检索内容」不能包含空字符"),
    ("/admin/money_trail/?start=0001-01-01&end=9999-12-31", 400, "「开始日期」应在 1900-01-01 到 2999-12-31 之间"),
    ("/admin/money_trail/?end=9999-12-31&format=csv", 400, "「结束日期」应在"),
    ("/admin/money_trail/?start=2026-02-30", 400, "「开始日期」不是有效的日期"),
    ("/admin/standing/?start=0000-00-00", 400, "「开始日期」不是有效的日期"),
    ("/admin/report/?month=9999-12", 400, "「月份」应在 1900-01 到 2999-12 之间"),
    ("/admin/report/pdf/?month=9999-12", 400, "「月份」应在"),
    ("/admin/report/?month=2026-13", 400, "「月份」不是有效的月份"),
    ("/admin/standing/?month=9999-12", 400, "「保洁考核月份」应在"),
    ("/admin/standing/?level=estate&key=99999999999999999999", 404, "不存在"),
    ("/admin/standing/?level=community&key=-3", 404, "不存在"),
    ("/admin/standing/?level=street&key=abc", 404, "不存在"),
    ("/admin/late/?community=99999999999999999999", 404, "不存在"),
    ("/admin/rollout/?community=99999999999999999999", 404, "不存在"),
    ("/admin/estate/import/%00/", 404, "不存在"),
    ("/admin/estate/import/" + "a" * 40 + "/", 404, "不存在"),
    ("/admin/estate/import/%00/status/", 404, "不存在"),
])
def test_a_parameter_no_screen_can_use_is_refused_in_chinese(admin, url, status, said):
    response = admin.get(url)
    assert response.status_code == status, url
    assert said in error_text(response)
    check(response, url)


def first_rows(page: str) -> list[str]:
    return re.findall(r'name="rowid" value="(\d+)"', page)


@pytest.mark.parametrize("args", ["page=-1", "page=99999999999999999999", "page=abc", "page_size=-5",
                                  "page_size=99999999999999999999", "sort=99", "sort=-1", "desc=abc",
                                  f"after={NUL_CURSOR}", f"before={HUGE_CURSOR}",
                                  "after=" + b64(b'[Infinity, NaN]'), "after=" + b64(b"[[[[1]]]]"),
                                  "after=" + "A" * 5000])
def test_list_navigation_out_of_range_falls_back(admin, args):
    """Paging, sorting and cursors are where the list is, not what it holds: a value out of
    range is the nearest there is (a page below the first is the first, one past the end
    is empty), a sort or cursor that is not one is the list's default."""
    response = admin.get(f"/admin/estate/?{args}")
    check(response, args)
    assert response.status_code == 200
    if "99999999999999999999" in args and args.startswith("page="):
        assert first_rows(response.text) == []
    elif not args.startswith(("sort", "desc", "before")):
        assert first_rows(response.text) == first_rows(admin.get("/admin/estate/").text)


def filter_key(app, endpoint: str, label: str) -> str:
    """The URL key of a list's (first) filter on ``label``."""
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == endpoint)
    with app.test_request_context():
        for key, (_, flt) in view._filter_args.items():
            if str(flt.name) == label:
                return key
    raise AssertionError(f"no filter {label} on {endpoint}")


def test_a_filter_the_list_does_not_have_is_dropped_with_a_notice(admin):
    everything = first_rows(admin.get("/admin/estate/").text)
    for args in ("flt0_99=x", "flt3_zz=1", "flt_0=1", "fltx=1"):
        page = admin.get(f"/admin/estate/?{args}")
        check(page, args)
        assert page.status_code == 200
        assert "链接中有 1 个筛选条件已不存在，已忽略" in page.text, args
        assert first_rows(page.text) == everything


@pytest.mark.parametrize("endpoint, label, value, said", [
    ("estate", "小区类别", "nonexistent", "的值不是可选的项"),
    ("estate", "所属社区", "99999999999999999999", "的值数值超出可保存的范围"),
    ("estate", "试点小区", "2", "的值无效"),
    ("audit_log", "对象类型", "a\x00b", "的值不能包含空字符（\\0）"),
    ("audit_log", "对象类型", "x" * 201, "的值不能超过 200 个字符"),
    ("rollout_plan", "年度", "9" * 25, "的值数值超出可保存的范围"),
    ("rollout_plan", "年度", "abc", "的值无效"),
    ("repair_ticket", "来电时间", "2026-01-01 to 2026-02-30", "的值无效"),
])
def test_a_filter_value_its_column_cannot_hold_is_dropped_with_a_notice(app, admin, endpoint, label, value, said):
    key = filter_key(app, endpoint, label)
    everything = first_rows(admin.get(f"/admin/{endpoint}/").text)
    page = admin.get(f"/admin/{endpoint}/?" + urlencode({f"flt0_{key}": value}))
    check(page, label)
    assert page.status_code == 200
    assert f"筛选条件「{label}」{said}，已忽略" in page.text
    assert first_rows(page.text) == everything


def test_ajax_positions_out_of_range_are_the_nearest(admin):
    base = "/admin/estate/ajax/lookup/?name=community&query="
    first = admin.get(base).json
    assert admin.get(base + "&offset=-1").json == first
    assert admin.get(base + "&offset=99999999999999999999").json == []
    assert len(admin.get(base + "&limit=-1").json) == 1
    assert len(admin.get(base + "&limit=99999999999999999999").json) <= 50


def test_pages_take_a_blank_or_unknown_choice_as_the_default(admin):
    for url in ("/admin/standing/?level=nonsense&key=&start=&end=&month=", "/admin/late/?community=",
                "/admin/money_trail/?format=%00", "/admin/rollout/?community="):
        response = admin.get(url)
        check(response, url)
        assert response.status_code == 200, url


# -- exports: refused before the first byte, or ended cleanly -------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("args, said", [
    ("search=%00", "「搜索内容」不能包含空字符"),
    ("flt0_99=x", "导出未开始：链接中的筛选条件已不存在"),
    ("flt0_{class}=nonexistent", "导出未开始：筛选条件「小区类别」的值不是可选的项"),
    ("flt0_{community}=99999999999999999999", "导出未开始：筛选条件「所属社区」的值数值超出可保存的范围"),
])
def test_an_export_refuses_bad_input_before_it_starts(app, admin, kind, args, said):
    args = args.format(**{"class": filter_key(app, "estate", "小区类别"), "community": filter_key(app, "estate", "所属社区")})
    response = admin.get(f"/admin/estate/export/{kind}/?{args}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert said in response.text
    check(response, args)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_export_that_fails_half_way_ends_the_file_saying_so(app, admin, kind, monkeypatch, caplog):
    """A bug met after the download has begun cannot become an error page: the file ends
    with a line saying it is incomplete, and the log has the traceback."""
    from views.engine import exports

    with app.app_context():
        from models.estates import Estate
        names = db.session.scalars(db.select(Estate.name).order_by(Estate.name)).all()
    victim = names[len(names) // 2]
    plain = exports._format_text

    def breaks(value: Any) -> Any:
        if value == victim:
            raise RuntimeError("a bug half-way")
        return plain(value)

    monkeypatch.setattr(exports, "_format_text", breaks)
    with caplog.at_level(logging.ERROR, logger="views.engine.exports"):
        response = admin.get(f"/admin/estate/export/{kind}/?sort=0")
    assert response.status_code == 200 and all(h in response.headers for h in SECURITY_HEADERS)
    if kind == "csv":
        lines = response.get_data().decode("utf-8-sig").strip().splitlines()
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).worksheets[0]
        lines = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert lines[-1] == FAILED
    assert 1 < len(lines) < len(names) + 1  # some rows, not all
    logged = [r for r in caplog.records if "export failed half-way" in r.getMessage()]
    assert logged and logged[0].exc_info and "a bug half-way" in str(logged[0].exc_info[1])


def test_an_export_whose_query_fails_gets_an_error_page_not_a_broken_download(app, admin, monkeypatch):
    """What the export's query meets — here a bug that makes it invalid SQL — is found
    before the response starts: the app's own error page (500; SQLite calls a missing
    column an operational error, so 503 there), with its security headers, not the
    server's bare page once the download has begun."""
    from sqlalchemy import text

    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "estate")
    plain = view.export_query
    monkeypatch.setattr(view, "export_query", lambda *a: plain(*a).filter(text("no_such_column = 1")))
    for kind in ("csv", "xlsx"):
        response = admin.get(f"/admin/estate/export/{kind}/")
        assert response.status_code in (500, 503) and response.mimetype == "text/html", kind
        assert has_chinese(response.text) and all(h in response.headers for h in SECURITY_HEADERS)
