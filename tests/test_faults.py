"""Faults, made for real: the database taken away, locked, or a bug half-way through a bulk
action. Every kind of request answers a Chinese 503 (JSON where JSON is read), the log gets
one line and no traceback, nothing is half-written, and the application recovers by
itself when the database is back — no restart.

* PostgreSQL: the app talks to the server through a TCP proxy in this process
  (tests/tcp_proxy.py); cutting the proxy is the server going away — the real server, which
  other tests use, is never stopped. Locks: another connection holds a row or a table.
* SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``); WAL keeps reads
  going, writes wait the busy timeout and then answer 503 "数据库繁忙".

Everything runs on a database of its own (``own_database``), outside the per-test transaction.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sqlite3
import threading
import time
from typing import Any, Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import create_app
from models import db
from models.kernel.audit import AuditLog
from models.estates import Estate
from models.rollout import Pilot
from views.engine.exports import INTERRUPTED, STREAM

from .helpers import Client, flashes, row_id, xlsx
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.live
POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
postgres_only = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL: a server to take away")
sqlite_only = pytest.mark.skipif(POSTGRES, reason="SQLite's own write lock")

DOWN = "数据库暂时无法连接"
BUSY = "数据库繁忙"


def make_app(url: str, instance: Any, **config: Any) -> Any:
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                       "SECRET_KEY": "faults-secret", "TESTING": True, **config})


def dispose(app: Any) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def log_lines() -> Iterator[list[logging.LogRecord]]:
    """What the application logs (the suite runs with pytest's logging plugin off)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.INFO)
    logger = logging.getLogger("views")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def fault_lines(records: list[logging.LogRecord], kind: str) -> list[logging.LogRecord]:
    return [r for r in records if r.getMessage().startswith(f"database {kind} on ")]


def estate_form(app: Any, estate_id: int, **changes: str) -> dict[str, str]:
    with app.app_context():
        e = db.session.get(Estate, estate_id)
        form = {"name": e.name, "community": str(e.community_id), "estate_class": e.estate_class.value,
                "households": str(e.households or "")}
        db.session.remove()
    return {**form, **changes}


def estate_name(app: Any, estate_id: int) -> str:
    with app.app_context():
        name = db.session.get(Estate, estate_id).name
        db.session.remove()
    return name


# -- PostgreSQL: the server goes away and comes back ------------------------------------------


@pytest.fixture
def proxied(own_database: str, tmp_path) -> Iterator[tuple[Any, TcpProxy]]:
    url = make_url(own_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    app = make_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                   tmp_path, DATABASE_CONNECT_TIMEOUT=2)
    try:
        yield app, proxy
    finally:
        proxy.stop()
        dispose(app)


def every_kind_of_request(app: Any, street: Client, admin: Client) -> list[tuple[str, Any]]:
    """(what, how to send it) for each kind of request the product serves. Ids, a pending
    import and the like are found while the database is still there."""
    estate = row_id(app, Estate, name="永乐花园")
    ticket = _first_id(app, "repair_ticket")
    upload = street.post("/admin/estate/import/", {"file": (io.BytesIO(xlsx([
        ["小区名称", "所属社区", "地址", "小区类别", "管理模式", "户数"],
        ["断线小区", "江滨社区", "", "一类", "", 10]])), "断线.xlsx")},
        content_type="multipart/form-data")
    status_url = upload.headers["Location"].rstrip("/") + "/status/"
    form = estate_form(app, estate, name="断线时的修改")
    visitor = Client(app)  # not logged in: the login page itself needs no database
    visitor.token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                              visitor.get("/login").text).group(1)
    return [
        ("dashboard", lambda: street.get("/admin/")),
        ("list", lambda: street.get("/admin/estate/")),
        ("list with search", lambda: street.get("/admin/estate/?search=永乐")),
        ("details", lambda: street.get(f"/admin/estate/details/?id={estate}")),
        ("edit form", lambda: street.get(f"/admin/estate/edit/?id={estate}")),
        ("history", lambda: street.get(f"/admin/estate/history/?id={estate}")),
        ("form POST", lambda: street.post(f"/admin/estate/edit/?id={estate}", form)),
        ("new record POST", lambda: street.post("/admin/estate/new/", form)),
        ("bulk action", lambda: street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)})),
        ("transition", lambda: admin.post(f"/admin/repair_ticket/transition/accept/?id={ticket}", {})),
        ("export CSV", lambda: street.get("/admin/estate/export/csv/")),
        ("export XLSX", lambda: street.get("/admin/estate/export/xlsx/")),
        ("import page", lambda: street.get("/admin/estate/import/")),
        ("import upload", lambda: street.post("/admin/estate/import/", {"file": (io.BytesIO(b"x"), "a.csv")},
                                              content_type="multipart/form-data")),
        ("late page", lambda: street.get("/admin/late/")),
        ("standing page", lambda: street.get("/admin/standing/")),
        ("rollout page", lambda: street.get("/admin/rollout/")),
        ("monthly report", lambda: street.get("/admin/report/")),
        ("audit trail", lambda: admin.get("/admin/audit_log/")),
        ("login", lambda: visitor.post("/login", {"username": "street", "password": "demo1234"})),
        ("ajax look-up", lambda: street.get("/admin/estate/ajax/lookup/?name=community&query=江",
                                             headers={"X-Requested-With": "XMLHttpRequest"})),
        ("import progress", lambda: street.get(status_url, headers={"Accept": "application/json"})),
    ]


JSON_KINDS = {"ajax look-up", "import progress"}


def _first_id(app: Any, table: str) -> int:
    with app.app_context():
        found = db.session.execute(text(f"SELECT min(id) FROM {table}")).scalar()
        db.session.remove()
    return found


@postgres_only
def test_database_gone_every_request_503_then_back_without_restart(proxied, log_lines):
    app, proxy = proxied
    street, admin = Client(app).login("street"), Client(app).login("admin")
    requests = every_kind_of_request(app, street, admin)
    estate = row_id(app, Estate, name="永乐花园")
    assert street.get("/admin/estate/").status_code == 200  # pooled connections, then cut under them

    proxy.cut()
    for what, send in requests:
        response = send()
        assert response.status_code == 503, what
        assert response.headers.get("Retry-After"), what
        body = response.get_data(as_text=True)
        assert "Traceback" not in body and "psycopg" not in body and "SELECT" not in body, what
        if what in JSON_KINDS:
            assert response.is_json and response.json["error"] == "服务暂时不可用", what
            assert DOWN in response.json["message"], what
        else:
            assert response.mimetype == "text/html" and "503 · 服务暂时不可用" in body and DOWN in body, what
    down = fault_lines(log_lines, "unavailable")
    assert len(down) >= len(requests)
    assert all(r.exc_info is None for r in down)  # one line each, no traceback
    assert any("GET /admin/estate/details/" in r.getMessage() and "Connection refused" in r.getMessage()
               for r in down)
    assert not any("INSERT" in r.getMessage() or "SELECT" in r.getMessage() for r in down)  # no SQL, no data
    with pytest.raises(OperationalError):  # (the database really is out of reach)
        estate_name(app, estate)

    proxy.restore()
    assert street.get("/admin/estate/").status_code == 200
    assert street.get(f"/admin/estate/details/?id={estate}").status_code == 200
    assert street.get("/admin/estate/ajax/lookup/?name=community&query=江").status_code == 200
    saved = street.post(f"/admin/estate/edit/?id={estate}", estate_form(app, estate, households="321"))
    assert saved.status_code == 302, flashes(saved.text)
    with app.app_context():
        assert db.session.get(Estate, estate).households == 321
        assert db.session.scalar(select(Estate.id).where(Estate.name == "断线时的修改")) is None
        db.session.remove()


@postgres_only
def test_an_export_cut_off_half_way_says_so_in_the_file(proxied, log_lines):
    app, proxy = proxied
    admin = Client(app).login("admin")
    with app.app_context():
        rows = db.session.scalar(select(db.func.count()).select_from(AuditLog))
        db.session.remove()
    assert rows > 2 * STREAM  # more than the first fetch: the cut falls in the middle

    response = admin.http.get("/admin/audit_log/export/csv/", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks)
    proxy.cut()
    rest = b"".join(chunks)
    response.close()
    lines = (first + rest).decode("utf-8-sig").strip().splitlines()
    assert 1 < len(lines) < rows
    assert lines[-1] == INTERRUPTED
    assert any("(导出)" in r.getMessage() for r in fault_lines(log_lines, "unavailable"))
    proxy.restore()
    assert admin.get("/admin/audit_log/export/csv/").status_code == 200


@postgres_only
def test_a_locked_table_makes_pages_busy_and_a_locked_row_keeps_the_form(own_database, tmp_path, log_lines):
    import psycopg

    app = make_app(own_database, tmp_path, DATABASE_BUSY_TIMEOUT=0.5)
    street = Client(app).login("street")
    estate = row_id(app, Estate, name="永乐花园")
    dsn = make_url(own_database).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn) as locker:  # a table lock: even reading waits, then 503
            locker.execute("LOCK TABLE estate IN ACCESS EXCLUSIVE MODE")
            page = street.get("/admin/estate/")
            assert page.status_code == 503 and BUSY in page.text
            lookup = street.get("/admin/estate/ajax/lookup/?name=community&query=江",
                                headers={"X-Requested-With": "XMLHttpRequest"})
            assert lookup.status_code == 503 and lookup.json["error"] == BUSY
        assert street.get("/admin/estate/").status_code == 200  # released: served again

        with psycopg.connect(dsn) as locker:  # the exported table alone: 503 before a download begins
            locker.execute("LOCK TABLE repair_ticket IN ACCESS EXCLUSIVE MODE")
            for kind in ("csv", "xlsx"):
                export = street.get(f"/admin/repair_ticket/export/{kind}/")
                assert export.status_code == 503 and BUSY in export.text, kind
        assert street.get("/admin/repair_ticket/export/csv/").status_code == 200

        with psycopg.connect(dsn) as locker:  # a row lock: reads go on, the save waits, then 503
            locker.execute("SELECT id FROM estate WHERE id = %s FOR UPDATE", (estate,))
            assert street.get(f"/admin/estate/details/?id={estate}").status_code == 200
            response = street.post(f"/admin/estate/edit/?id={estate}",
                                   estate_form(app, estate, name="锁住时的修改"))
            assert response.status_code == 503
            assert "数据库繁忙，保存未完成，数据未改变；请稍后重新提交" in flashes(response.text)
            assert 'value="锁住时的修改"' in response.text  # the form is kept, to submit again
        assert estate_name(app, estate) == "永乐花园"
        busy = fault_lines(log_lines, "busy")
        assert busy and all(r.exc_info is None for r in busy)

        again = street.post(f"/admin/estate/edit/?id={estate}", estate_form(app, estate, households="654"))
        assert again.status_code == 302, flashes(again.text)
    finally:
        dispose(app)


# -- SQLite: another connection holds the write lock --------------------------------------------


@sqlite_only
def test_sqlite_locked_reads_go_on_writes_wait_then_503_then_work(own_database, tmp_path, log_lines):
    app = make_app(own_database, tmp_path, DATABASE_BUSY_TIMEOUT=0.5)
    street = Client(app).login("street")
    estate = row_id(app, Estate, name="永乐花园")
    locker = sqlite3.connect(make_url(own_database).database, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        for url in ("/admin/", "/admin/estate/", f"/admin/estate/details/?id={estate}",
                    "/admin/estate/export/csv/"):
            assert street.get(url).status_code == 200, url  # WAL: readers are not blocked

        started = time.monotonic()
        response = street.post(f"/admin/estate/edit/?id={estate}", estate_form(app, estate, name="锁住时的修改"))
        waited = time.monotonic() - started
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "503 · 数据库繁忙" in response.text and "Traceback" not in response.text
        assert waited >= 0.4  # it waited for the lock (the busy timeout) before giving up
        action = street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)})
        assert action.status_code == 503 and BUSY in action.text
        busy = fault_lines(log_lines, "busy")
        assert len(busy) >= 2 and all(r.exc_info is None for r in busy)
        assert all("database is locked" in r.getMessage() for r in busy)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    try:
        assert estate_name(app, estate) == "永乐花园"
        saved = street.post(f"/admin/estate/edit/?id={estate}", estate_form(app, estate, households="77"))
        assert saved.status_code == 302, flashes(saved.text)
        with app.app_context():
            assert db.session.get(Estate, estate).households == 77
            db.session.remove()
    finally:
        dispose(app)


@sqlite_only
def test_sqlite_two_saves_at_once_the_second_waits_instead_of_failing(own_database, tmp_path):
    """A write holding the lock for a moment (another person saving) makes the next save
    wait, not fail: a request that writes takes the lock when it begins."""
    app = make_app(own_database, tmp_path, DATABASE_BUSY_TIMEOUT=5)
    street = Client(app).login("street")
    estate = row_id(app, Estate, name="永乐花园")
    locker = sqlite3.connect(make_url(own_database).database, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("UPDATE estate SET note = 'written by another' WHERE id = ?", (estate,))
    threading.Timer(0.3, lambda: locker.execute("COMMIT")).start()
    try:
        saved = street.post(f"/admin/estate/edit/?id={estate}", estate_form(app, estate, households="88"))
        assert saved.status_code == 302, flashes(saved.text)
        with app.app_context():
            row = db.session.get(Estate, estate)
            assert (row.households, row.note) == (88, "written by another")
            db.session.remove()
    finally:
        time.sleep(0.4)
        locker.close()
        dispose(app)


# -- a bug half-way through a bulk action ------------------------------------------------------


def test_a_crash_on_the_third_of_five_rows_writes_nothing(own_database, tmp_path, monkeypatch, log_lines):
    app = make_app(own_database, tmp_path)
    street = Client(app).login("street")
    with app.app_context():
        chosen = db.session.scalars(select(Estate.id).where(~Estate.id.in_(select(Pilot.estate_id)))
                                    .order_by(Estate.id).limit(5)).all()
        audit_before = db.session.scalar(select(db.func.max(AuditLog.id)))
        db.session.remove()
    assert len(chosen) == 5

    import models.rollout as rollout

    original = rollout.designate
    seen: list[int] = []

    def crashing(estate: Estate) -> None:
        seen.append(estate.id)
        if len(seen) == 3:
            raise RuntimeError("a bug on the third row")
        original(estate)
        db.session.flush()  # the first rows really reach the database before the crash

    monkeypatch.setattr(rollout, "designate", crashing)
    response = street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": [str(i) for i in chosen]},
                           follow_redirects=True)
    assert len(seen) == 3
    assert response.status_code == 200
    assert "标记为试点（所选 5 条）未完成，数据未改变：系统出现意外错误，已记录日志，请联系管理员" in flashes(response.text)
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    with app.app_context():
        assert db.session.scalars(select(Pilot).where(Pilot.estate_id.in_(chosen))).all() == []
        assert db.session.scalar(select(db.func.max(AuditLog.id))) == audit_before
        db.session.remove()
    assert any(r.exc_info and "标记为试点" in r.getMessage() for r in log_lines)  # a bug: its traceback, in the log only

    monkeypatch.setattr(rollout, "designate", original)
    done = street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": [str(i) for i in chosen]},
                       follow_redirects=True)
    assert "标记为试点：已处理 5 条记录" in flashes(done.text)
    with app.app_context():
        assert len(db.session.scalars(select(Pilot).where(Pilot.estate_id.in_(chosen))).all()) == 5
        db.session.execute(Pilot.__table__.delete().where(Pilot.estate_id.in_(chosen)))  # as found
        db.session.commit()
        db.session.remove()
    dispose(app)
