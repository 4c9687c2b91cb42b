"""Friendly error pages in Chinese: never a traceback, always a way back.

When the database is unreachable or busy (locked, a lock wait timed out), every kind of
request answers 503 — a page, or JSON for the ajax and polling endpoints — and the log
gets one line saying which request and why (never the SQL or its parameters: they hold
residents' names and phones). A write refused this way keeps the user's form on screen
(see :func:`database_fault`). The connection pool checks each connection before use
(``pool_pre_ping``), so the application recovers by itself when the database returns.
"""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .params import BadParameter

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("请求无效", "提交的内容无法处理，请返回上一页检查后重试。"),
    403: ("没有权限", "您的账号没有执行此操作的权限，或该记录不在您的管辖范围内。"),
    404: ("页面不存在", "您访问的页面或记录不存在，或不在您的管辖范围内。"),
    405: ("不支持的操作", "该页面不支持这种访问方式。"),
    413: ("文件过大", "上传的文件超过了大小限制。"),
    500: ("系统出错", "系统处理时出现意外错误，已记录日志。请稍后重试或联系管理员。"),
    503: ("服务暂时不可用", "数据库暂时无法连接，请稍后刷新重试。"),
}
BUSY = ("数据库繁忙", "数据库正忙于其他操作，暂时无法完成您的请求，请稍后重试。")
RETRY_AFTER = "10"  # seconds: a hint to the browser, a proxy or a monitoring probe

# PostgreSQL's "try again" conditions: lock_timeout, deadlock, serialization, cancelled wait
BUSY_SQLSTATES = {"55P03", "40P01", "40001", "57014"}


def fault_kind(exc: OperationalError) -> str:
    """``busy`` (locked, a lock wait timed out: retrying soon will do) or ``down``."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in BUSY_SQLSTATES:
        return "busy"
    said = str(orig or exc).lower()
    return "busy" if "database is locked" in said or "database table is locked" in said \
        or "database is busy" in said else "down"


def fault_summary(exc: OperationalError) -> str:
    """The driver's first line — ``connection refused``, ``database is locked`` — without
    the statement and parameters SQLAlchemy appends."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def database_fault(exc: OperationalError, doing: str = "") -> str:
    """Log one line for a database fault met while serving this request, and mark the
    response as 503 even if it goes on to show something (a form kept for the user to
    submit again). Returns what to tell the user."""
    kind = fault_kind(exc)
    where = "?"
    if has_request_context():
        g.database_fault = kind
        where = f"{request.method} {request.path}"
    log.error("database %s on %s%s: %s", "busy" if kind == "busy" else "unavailable", where,
              f" ({doing})" if doing else "", fault_summary(exc))
    if kind == "busy":
        return f"数据库繁忙，{doing or '操作'}未完成，数据未改变；请稍后重新提交"
    return f"数据库暂时无法连接，{doing or '操作'}未完成，数据未改变；请稍后重新提交"


def wants_json() -> bool:
    """Ajax look-ups and polling pages read JSON; a page for them would not be read."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json" \
        or request.headers.get("X-Requested-With") == "XMLHttpRequest" \
        or request.path.endswith(("/ajax/lookup/", "/ajax/update/", "/status/"))


def _page(code: int, detail: str | None = None, title: str | None = None):
    default_title, message = MESSAGES.get(code, (f"错误 {code}", "请求未能完成。"))
    title = title or default_title
    if wants_json():
        return jsonify(error=title, message=detail or message), code
    return render_template("errors/error.html", code=code, title=title,
                           message=detail or message), code


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        log.warning("CSRF refused %s %s: %s", request.method, request.path, exc.description)
        return _page(400, "页面已过期或请求缺少安全令牌（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(BadParameter)
    def bad_parameter(exc: BadParameter):
        return _page(400, exc.description)  # names the parameter and what is wrong with it

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError):
        from flask_login import AnonymousUserMixin

        database_fault(exc)
        # the page must not need the database: Flask-Login would load the user again to
        # render it (and fail again), so it is shown as to a visitor
        g._login_user = AnonymousUserMixin()
        if g.database_fault == "busy":
            return _page(503, BUSY[1], BUSY[0])
        return _page(503)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = make_response(_page(exc.code or 500))
        # the headers that belong to the error itself (405's Allow) stay with our page
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(500)

    @app.after_request
    def database_fault_status(response):
        """A page shown although the database refused (the form kept, with the reason)
        still says 503, for proxies, monitoring and scripts."""
        if getattr(g, "database_fault", None):
            if response.status_code == 200:
                response.status_code = 503
            if response.status_code == 503:
                response.headers.setdefault("Retry-After", RETRY_AFTER)
        return response
