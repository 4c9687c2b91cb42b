"""Friendly error pages in Chinese: never a traceback, always a way back."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

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


def _page(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, (f"错误 {code}", "请求未能完成。"))
    if request.accept_mimetypes.best == "application/json" or request.path.endswith("/ajax/lookup/"):
        return jsonify(error=title, message=detail or message), code
    return render_template("errors/error.html", code=code, title=title,
                           message=detail or message), code


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        log.warning("CSRF refused %s %s: %s", request.method, request.path, exc.description)
        return _page(400, "页面已过期或请求缺少安全令牌（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError):
        log.error("database unavailable: %s", exc)
        return _page(503)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _page(exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(500)
