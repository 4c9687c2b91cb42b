"""What every response carries and what no request may smuggle in.

* A Content-Security-Policy with a fresh nonce per request: scripts run only from
  this site or, inline, with the nonce (Flask-Admin's templates and ours print it);
  no inline event handlers, no ``javascript:`` URLs.
* Framing refused, MIME sniffing off, the referrer kept on this site, and nothing
  but static files kept in any cache (lists, records and exports are people's data).
* Return targets (``url=``, ``next=``) that would leave the site are dropped at the
  door, so every view — ours and Flask-Admin's — falls back to its own default.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from flask import Flask, g, request
from werkzeug.datastructures import ImmutableMultiDict

log = logging.getLogger(__name__)

# The query and form fields that name where to go next.
RETURN_TARGETS = ("url", "next")


def csp_nonce() -> str:
    """This request's nonce (Flask-Admin calls this for every script it prints)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str | None) -> str:
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return "; ".join((
        "default-src 'self'",
        f"script-src {scripts}",
        # style attributes (progress bars, timelines, Select2's sizing) need inline styles;
        # a nonce here would switch 'unsafe-inline' off, so styles get none
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def is_local_target(target: str | None) -> bool:
    """A path on this site, as the app itself writes them: ``/admin/estate/?page=2``.

    Refused: other hosts (``https://evil``), scheme-relative ``//evil``, schemes
    (``javascript:``, ``http:evil`` which a browser on HTTPS reads as a host),
    backslashes (``/\\evil`` is ``//evil`` to a browser), and control characters or
    surrounding blanks (browsers strip them, turning ``/\\t/evil`` into ``//evil``).
    Flask-Admin's own check lets ``http:evil`` through; this one runs first.
    """
    if not target or len(target) > 2048 or target != target.strip():
        return False
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def is_static_request() -> bool:
    """A request for a static file (the app's or Flask-Admin's): no session work for it."""
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _drop_unsafe_targets() -> None:
    req = request._get_current_object()
    for source in ("args", "form"):
        if source == "form" and req.method in ("GET", "HEAD", "OPTIONS"):
            continue
        values = getattr(req, source)
        unsafe = [name for name in RETURN_TARGETS
                  if name in values and not all(is_local_target(v) for v in values.getlist(name))]
        if not unsafe:
            continue
        log.warning("refused return target on %s %s: %s", req.method, req.path,
                    {n: values.getlist(n) for n in unsafe})
        kept = [(k, v) for k, v in values.items(multi=True) if k not in unsafe]
        setattr(req, source, ImmutableMultiDict(kept))
        req.__dict__.pop("values", None)  # request.values is built from args and form


def register(app: Flask) -> None:
    @app.before_request
    def refuse_foreign_targets() -> None:
        if not is_static_request():
            _drop_unsafe_targets()

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(g.get("csp_nonce")))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if not is_static_request():
            # pages, exports, photos and JSON hold people's data: no copy in any cache
            headers["Cache-Control"] = "no-store"
        return response

    app.jinja_env.globals["csp_nonce"] = csp_nonce
