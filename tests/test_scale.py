"""What keeps the product fast at city scale, checked without timing anything:

* no query behind a list page, a details or edit page, the dashboard or the late and
  standing pages reads the large tables row by row — checked with SQLite's own query
  plan on data built by ``flask seed-scale`` (skewed, seasonal, indexed as in production);
* the statements of a list page are the same whatever the page number or cursor;
* paging by cursor visits every row once, in order, both ways;
* beyond the count cap the list says "10,000+" and pages by cursor.

The timings themselves are the benchmark's business (bench/run.py, figures in README).
"""

from __future__ import annotations

import os
import re
from html import unescape
from typing import Any, Iterator

import pytest
from sqlalchemy import event, select, text

from models import db

BIG = ("repair_ticket", "complaint", "inspection", "inspection_item")
SIZES = {"estates": 300, "tickets": 30_000, "complaints": 15_000, "inspections": 3_000}

# the city has a database of its own: outside the per-test transaction
live = pytest.mark.live


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Iterator[Any]:
    """A small city on SQLite, built by the seed-scale command's own code, analysed."""
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("query plans are checked on SQLite; PostgreSQL's are measured by bench/run.py")
    import flask_migrate

    from app import create_app
    from models.kernel.audit import acting_as
    from seeds.casework_demo import load_repair_rules
    from seeds.reference import load_indicators
    from seeds.scale import generate

    folder = tmp_path_factory.mktemp("city")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'city.db'}",
                      "INSTANCE_PATH": str(folder), "SECRET_KEY": "city", "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        with acting_as("测试准备"):
            load_repair_rules()
            load_indicators()
            db.session.commit()
            generate(**SIZES, seed=11, echo=lambda line: None)
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def client(app: Any, username: str) -> Any:
    from views.auth import plant_login

    c = app.test_client()
    plant_login(app, c, username)
    return c


def statements(app: Any, c: Any, url: str) -> list[tuple[str, Any]]:
    c.get(url)  # warm: the user, Flask-Admin's caches
    seen: list[tuple[str, Any]] = []
    with app.app_context():
        engine = db.engine

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        response = c.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert response.status_code == 200, url
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def full_reads(app: Any, found: list[tuple[str, Any]]) -> list[str]:
    """The statements whose plan reads a large table without an index to bound it."""
    problems = []
    with app.app_context(), db.engine.connect() as conn:
        for statement, parameters in found:
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            touched = [line for line in plan if re.search(rf"\b({'|'.join(BIG)})\b", line)
                       and "_fts" not in line]
            if not touched:
                continue
            bounded = " LIMIT " in statement.upper()
            for line in touched:
                scan = line.startswith("SCAN")
                if scan and " USING " not in line:
                    problems.append(f"full scan: {line}\n    {statement[:300]}")
                elif scan and not bounded:
                    problems.append(f"whole-index walk without LIMIT: {line}\n    {statement[:300]}")
            if any("TEMP B-TREE FOR ORDER BY" in line for line in plan) and not any(
                    line.startswith("SEARCH") for line in touched):
                problems.append(f"sorts a whole large table: {plan}\n    {statement[:300]}")
    return problems


def ticket_urls(app: Any) -> list[str]:
    from bench.plain import filter_arg
    from models.repairs import RepairTicket

    with app.app_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "repair_ticket")
        busy = db.session.execute(text("SELECT estate_id FROM repair_ticket GROUP BY estate_id "
                                       "ORDER BY count(*) DESC LIMIT 1")).scalar()
        name = db.session.scalar(select(RepairTicket.caller).where(RepairTicket.id == 777))
        sort = [n for n, _ in view._list_columns].index("complete_due_at")
        category, estate = filter_arg(view, "category"), filter_arg(view, "estate_id")
    base = "/admin/repair_ticket/"
    return [base, f"{base}?{category}=water&{estate}={busy}", f"{base}?search={name}",
            f"{base}?page=40", f"{base}?sort={sort}", f"{base}?sort={sort}&desc=1",
            f"{base}details/?id=777", f"{base}edit/?id=777"]


@live
@pytest.mark.parametrize("username", ["city", "street1"])
def test_ticket_screens_never_read_the_whole_table(city, username):
    c = client(city, username)
    problems = []
    urls = ticket_urls(city)
    if username == "street1":  # the street sees its own tickets; 777 may lie elsewhere
        urls = [u for u in urls if "id=777" not in u]
    for url in urls:
        problems += [f"{url}: {p}" for p in full_reads(city, statements(city, c, url))]
    # a deep page by cursor, as the pager links it (past the count cap: the city's list)
    after = re.search(r'id="next-page" href="([^"]+)"', c.get("/admin/repair_ticket/").text)
    assert (after is not None) == (username == "city")
    if after:
        problems += [f"cursor: {p}" for p in full_reads(city, statements(city, c, unescape(after.group(1))))]
    assert not problems, "\n".join(problems)


@live
@pytest.mark.parametrize("url", ["/admin/complaint/", "/admin/inspection/", "/admin/inspection_item/",
                                 "/admin/", "/admin/late/", "/admin/standing/"])
def test_other_pages_never_read_a_whole_large_table(city, url):
    c = client(city, "city")
    problems = full_reads(city, statements(city, c, url))
    assert not problems, "\n".join(problems)


@live
def test_statements_do_not_change_with_the_page_or_cursor(city):
    c = client(city, "city")
    first = statements(city, c, "/admin/repair_ticket/")
    deep = statements(city, c, "/admin/repair_ticket/?page=40")
    page = c.get("/admin/repair_ticket/").text
    after = unescape(re.search(r'id="next-page" href="([^"]+)"', page).group(1))
    cursor = statements(city, c, after)
    assert len(first) == len(deep) == len(cursor), (first, deep, cursor)
    large = statements(city, c, "/admin/repair_ticket/?page_size=100")
    assert len(large) == len(first)


def ids_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)]


@live
def test_cursor_pages_visit_every_row_once_in_order_both_ways(city):
    from models.repairs import RepairTicket

    c = client(city, "city")
    with city.app_context():
        expected = list(db.session.scalars(select(RepairTicket.id).order_by(
            RepairTicket.call_at.desc(), RepairTicket.id.desc()).limit(100)))
    page = c.get("/admin/repair_ticket/").text
    assert "10,000+" in page and 'id="cursor-pager"' in page  # 30,000 tickets: past the cap
    pages, urls = [ids_on(page)], ["/admin/repair_ticket/"]
    for _ in range(4):
        urls.append(unescape(re.search(r'id="next-page" href="([^"]+)"', page).group(1)))
        page = c.get(urls[-1]).text
        pages.append(ids_on(page))
    assert [i for p in pages for i in p] == expected  # 5 pages of 20, no gap, no repeat
    # back from the fifth page: the fourth again, then the third
    back = unescape(re.search(r'id="prev-page" href="([^"]+)"', page).group(1))
    page = c.get(back).text
    assert ids_on(page) == pages[3]
    back = unescape(re.search(r'id="prev-page" href="([^"]+)"', page).group(1))
    assert ids_on(c.get(back).text) == pages[2]


@live
def test_a_cursor_that_is_not_one_starts_at_the_first_page(city):
    c = client(city, "city")
    first = ids_on(c.get("/admin/repair_ticket/").text)
    for token in ("garbage", "eyJhIjoxfQ", "W10", "%00"):
        response = c.get(f"/admin/repair_ticket/?after={token}")
        assert response.status_code == 200
        assert ids_on(response.text) == first


def test_mixed_direction_sort_pages_by_cursor(app, client_for, monkeypatch):
    """Fee bills sort by year descending, then estate ascending: the cursor's comparison
    must follow both directions (checked with a count cap of 3 on the demo's bills)."""
    import views.engine.listing as engine
    from models.fees import FeeBill

    monkeypatch.setattr(engine, "COUNT_CAP", 3)
    c = client_for("admin")
    with app.app_context():
        expected = list(db.session.scalars(select(FeeBill.id).order_by(
            FeeBill.year.desc(), FeeBill.estate_id, FeeBill.id)))
    assert len(expected) >= 4, "the demo has at least four fee bills"
    page = c.get("/admin/fee_bill/?page_size=2").text
    seen = ids_on(page)
    while 'id="next-page" href="/' in page:
        page = c.get(unescape(re.search(r'id="next-page" href="([^"]+)"', page).group(1))).text
        seen += ids_on(page)
    assert seen == expected

