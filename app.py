"""街道物业管理后台 — the application factory.

``python app.py`` and ``flask --app app run`` both serve it; ``flask --app app db upgrade``
builds the schema, ``flask --app app seed demo`` loads demo data.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from flask import Flask, has_request_context, redirect, request, url_for
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models import db, declared_models
from views import auth, errors, formatting, i18n, menu, security
from models.kernel.checks import DeclarationError, check_declarations
from views.engine import build_view
from views.home import HomeView

APP_NAME = "街道物业管理系统"
ROOT = Path(__file__).resolve().parent

csrf = CSRFProtect()


def init_migrations(app: Flask) -> None:
    """Flask-Migrate where migrations run: under the ``flask`` command (``flask db …``)
    and wherever flask_migrate is already imported (the tests). A serving process
    (gunicorn, ``python app.py``) never imports Alembic, which would cost it 11 MB."""
    import sys

    import click

    in_cli = click.get_current_context(silent=True) is not None
    if not in_cli and "flask_migrate" not in sys.modules:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(ROOT / "migrations"), compare_type=True)


# Commands that run although a declaration is wrong: migrating the schema, and the
# check that says what is wrong. The application itself refuses to serve.
TOLERANT_COMMANDS = frozenset({"db", "check"})


def cli_command() -> str | None:
    """The ``flask`` command this process runs (``db`` in ``flask --app app db upgrade``),
    or ``None`` when it serves requests or runs tests."""
    import sys

    import click

    if click.get_current_context(silent=True) is None:
        return None
    args, skip = sys.argv[1:], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--app", "-A", "--env-file", "-e"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def database_url(raw: str | None, instance_path: str) -> str:
    """``DATABASE_URL`` as SQLAlchemy wants it; a SQLite file in ``instance/`` by default."""
    if not raw:
        return f"sqlite:///{Path(instance_path) / 'wuye.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def secret_key(instance_path: str, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise RuntimeError("生产模式必须通过环境变量 SECRET_KEY 提供密钥")
    path = Path(instance_path) / "secret_key"
    if not path.exists():  # development: one random key per checkout, kept across restarts
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def engine_options(url: str, busy_seconds: float, connect_seconds: int) -> dict[str, Any]:
    """Connections checked before use (``pool_pre_ping``), so the app recovers by itself
    when the database comes back; lock waits and connection attempts bounded, so a request
    answers 503 instead of hanging until the server's worker timeout."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": busy_seconds}
    elif url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": max(1, connect_seconds),
                                   "options": f"-c lock_timeout={int(busy_seconds * 1000)}"}
    return options


def create_app(config: dict[str, Any] | None = None,
               extra_models: Iterable[type] = ()) -> Flask:
    config = dict(config or {})
    # instance/ holds the SQLite file, the secret key and uploads; tests pass their own
    app = Flask(__name__, instance_relative_config=True, template_folder="templates",
                instance_path=config.pop("INSTANCE_PATH", None) or os.environ.get("INSTANCE_PATH"))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    production = (config.get("APP_ENV") or os.environ.get("APP_ENV")) == "production"
    # Production is served over HTTPS: cookies only travel encrypted unless told otherwise
    secure_cookies = os.environ.get("SESSION_COOKIE_SECURE", "1" if production else "0") == "1"

    app.config.update(
        APP_ENV="production" if production else "development",
        SQLALCHEMY_DATABASE_URI=database_url(os.environ.get("DATABASE_URL"), app.instance_path),
        # how long a request waits for a lock (SQLite busy timeout, PostgreSQL lock_timeout)
        # before it answers 503 "数据库繁忙", and for a connection to the server
        DATABASE_BUSY_TIMEOUT=float(os.environ.get("DATABASE_BUSY_TIMEOUT", "15")),
        DATABASE_CONNECT_TIMEOUT=int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
        # behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto
        PROXY_COUNT=int(os.environ.get("PROXY_COUNT", "0")),
        WTF_CSRF_TIME_LIMIT=8 * 3600,           # a working day on one form
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        # Flask-Login's remember-me cookie is not offered; if it ever is, same flags
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure_cookies,
        SESSION_IDLE_MINUTES=int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        SESSION_MAX_HOURS=int(os.environ.get("SESSION_MAX_HOURS", "12")),
        LOGIN_MAX_FAILURES=5,                   # per login name, within the window
        LOGIN_MAX_FAILURES_PER_ADDRESS=20,      # per client address (an office shares one)
        LOGIN_FAILURE_WINDOW_MINUTES=15,
        LOGIN_LOCK_MINUTES=15,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        IMPORT_MAX_BYTES=10 * 1024 * 1024,
        FLASK_ADMIN_FLUID_LAYOUT=True,
    )
    app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path, production)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["DATABASE_BUSY_TIMEOUT"],
        app.config["DATABASE_CONNECT_TIMEOUT"]))

    models = [*declared_models(), *extra_models]
    problems = check_declarations(models)
    app.extensions["declaration_problems"] = problems
    if problems and cli_command() not in TOLERANT_COMMANDS:
        raise DeclarationError("模型声明有误，应用未启动：\n  - " + "\n  - ".join(map(str, problems))
                               + "\n（flask --app app check 列出全部问题；flask db … 仍可运行）")

    if app.config["PROXY_COUNT"]:
        # the client's address (login throttling) and https (secure cookies) as the proxy saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    init_migrations(app)
    csrf.init_app(app)
    i18n.init_app(app)
    auth.login_manager.init_app(app)
    app.register_blueprint(auth.bp)
    errors.register(app)
    security.register(app)
    app.jinja_env.filters["text"] = formatting.text  # numbers, dates, choices as people write them
    app.jinja_env.globals["cached_menu"] = menu.cached_menu

    admin = Admin(app, name=APP_NAME,
                  theme=Bootstrap4Theme(base_template="admin/app_base.html", fluid=True),
                  index_view=HomeView(name="首页", url="/admin", endpoint="admin"),
                  translations_path=str(i18n.TRANSLATIONS),
                  csp_nonce_generator=security.csp_nonce)
    for model in models if not problems else ():  # a broken declaration builds no screens
        admin.add_view(build_view(model))
    from views.pages import LateView, MoneyTrailView, ReportView, RolloutView, StandingView

    admin.add_view(LateView(name="超时预警", category="案件办理", endpoint="late"))
    admin.add_view(StandingView(name="指标达标情况", category="监督考评", endpoint="standing"))
    admin.add_view(RolloutView(name="推进总览", category="推进实施", endpoint="rollout"))
    admin.add_view(MoneyTrailView(name="资金审计", category="资金管理", endpoint="money_trail"))
    admin.add_view(ReportView(name="月度报告", endpoint="report"))
    from views.recycle import RecycleBinView

    admin.add_view(RecycleBinView(name="回收站", category="系统管理", endpoint="recycle"))

    @app.route("/")
    def root():
        return redirect(url_for("admin.index"))

    from seeds.cli import register_cli

    register_cli(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("weasyprint", "fontTools"):  # page-by-page progress is not news
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite as a real database: foreign keys enforced, readers not blocked by a
    writer (WAL), and SQLAlchemy — not the driver — in charge of transactions so
    SAVEPOINTs work. (The busy timeout is the driver's ``timeout``: engine_options.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


READING = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """A request that writes takes SQLite's write lock when its transaction begins. A
    transaction that has read first and then wants to write while another holds the lock
    gets "database is locked" at once — SQLite will not wait for it — so two people saving
    at the same moment would see one refused; taken up front, the lock is waited for (up to
    the busy timeout). Reading requests begin as readers: WAL never blocks them."""
    if connection.dialect.name == "sqlite":
        writing = has_request_context() and request.method not in READING
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


if __name__ == "__main__":
    create_app().run(host=os.environ.get("HOST", "127.0.0.1"),
                     port=int(os.environ.get("PORT", "5000")))
