"""Test set-up shared by every module.

* The schema is built once per run by the Alembic migrations (the same path as
  production), on SQLite by default or, with ``TEST_DATABASE_URL`` pointing at a
  PostgreSQL server, on a fresh database this run creates and drops.
* The demo world (``flask seed demo``) is loaded once and committed.
* Each test runs inside an outer transaction that is rolled back afterwards, so
  tests see the demo world and never each other's changes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy.engine import make_url

from hypothesis import settings as hypothesis_settings

from app import create_app
from models import db

from .helpers import Client

# Property-based tests are reproducible: the same examples on every run and machine (a
# red CI run is red again on a laptop), no example database carried between runs.
# HYPOTHESIS_PROFILE=explore draws fresh examples, to look for new failures on purpose.
hypothesis_settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def _fresh_postgres(server_url: str) -> tuple[str, Any]:
    import psycopg

    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"wuye_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = url.set(database="postgres").render_as_string(hide_password=False).replace(
        "postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url, drop = _fresh_postgres(server)
    try:
        yield url
    finally:
        drop()


INSTANCE = tempfile.mkdtemp(prefix="wuye-test-instance-")


def app_config(database_url: str) -> dict[str, Any]:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": INSTANCE}


@pytest.fixture(scope="session")
def app(database_url: str):
    import flask_migrate

    from models.kernel.audit import acting_as
    from seeds.demo import load_demo

    application = create_app(app_config(database_url))
    with application.app_context():
        flask_migrate.upgrade()
        with acting_as("测试准备"):
            load_demo()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(INSTANCE, ignore_errors=True)


@pytest.fixture(autouse=True)
def transaction(request, app) -> Iterator[Any]:
    """Bind every session of the test to one connection in a transaction, then roll back.
    Browser tests talk to a live server with a database of its own, and tests marked
    own_database build one: both are left alone."""
    if request.node.get_closest_marker("live") or request.node.get_closest_marker("own_database"):
        yield None
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        with app.app_context():
            db.session.remove()
            db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")
        outer.rollback()
        connection.close()


@pytest.fixture
def ctx(app):
    """An application context for test code that reads or writes models directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client_for(app):
    """``client_for("street")``: a client logged in as that demo account."""
    def make(username: str | None = None) -> Client:
        c = Client(app)
        return c.login(username) if username else c
    return make


# -- a database of the tests' own, for what the per-test transaction cannot hold ----------------


@pytest.fixture(scope="session")
def own_database(tmp_path_factory) -> Iterator[str]:
    """The URL of a database apart from the shared one — SQLite, or a fresh PostgreSQL
    database with ``TEST_DATABASE_URL`` — migrated, with the demo loaded and committed.
    For tests that back it up and restore it, lock it, or cut its connection; they use it
    outside the per-test transaction (``pytest.mark.live``) and leave its data usable
    for the others (a restore puts back what it found; added rows are harmless)."""
    import flask_migrate

    from models.kernel.audit import acting_as
    from seeds.demo import load_demo

    folder = tmp_path_factory.mktemp("own-database")
    server = os.environ.get("TEST_DATABASE_URL")
    url, drop = _fresh_postgres(server) if server else (f"sqlite:///{folder / 'own.db'}", None)
    application = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder),
                              "SECRET_KEY": "own-secret", "TESTING": True})
    with application.app_context():
        flask_migrate.upgrade()
        with acting_as("测试准备"):
            load_demo()
        db.session.remove()
        db.engine.dispose()
    try:
        yield url
    finally:
        if drop:
            drop()


# -- a live server and a real browser, for tests/test_browser.py ----------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """The app served on localhost from a thread, on a database of its own with the demo."""
    import threading

    import flask_migrate
    from werkzeug.serving import make_server

    from models.kernel.audit import acting_as
    from seeds.demo import load_demo

    instance = tmp_path_factory.mktemp("live-instance")
    server = os.environ.get("TEST_DATABASE_URL")
    url, drop = _fresh_postgres(server) if server else (f"sqlite:///{instance / 'live.db'}", None)
    application = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                              "SECRET_KEY": "live-secret"})
    with application.app_context():
        flask_migrate.upgrade()
        with acting_as("测试准备"):
            load_demo()
        db.session.remove()
    httpd = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        with application.app_context():
            db.engine.dispose()
        if drop:
            drop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = ("Chromium is not installed: `make test` installs Debian's chromium package when run "
                   "as root; otherwise `apt-get install chromium fonts-noto-cjk`")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests. {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def csp_violations(tab: Any) -> list[str]:
    """Start collecting what the Content-Security-Policy blocks on this tab (Chromium
    reports each refusal on the console) and every uncaught script error."""
    seen: list[str] = []
    tab.on("console", lambda m: seen.append(m.text)
           if "Content Security Policy" in m.text else None)
    tab.on("pageerror", lambda e: seen.append(f"script error: {e}"))
    return seen


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                  accept_downloads=True, base_url=live_server)
    tab = context.new_page()
    tab.set_default_timeout(15000)
    refused = csp_violations(tab)
    yield tab
    context.close()
    # every browser test doubles as a check that the CSP breaks nothing it touched
    assert not refused, f"blocked by the CSP or failed in the page: {refused}"


def screenshot(page: Any, name: str) -> Path:
    """Keep a picture of the page as a test artefact (test-artifacts/, not in git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
