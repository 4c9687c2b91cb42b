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
from typing import Any, Iterator

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from models import db

from .helpers import Client


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

    from models.audit import acting_as
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
def transaction(app) -> Iterator[Any]:
    """Bind every session of the test to one connection in a transaction, then roll back."""
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
            db.session.configure(bind=None, join_transaction_mode="conservative_savepoint")
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
