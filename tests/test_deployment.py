"""Deployment: behind a reverse proxy (nginx terminating HTTPS), the forwarded scheme,
client address and host are believed only when ``PROXY_COUNT`` says how many
proxies stand in front — otherwise any client could forge them."""

from __future__ import annotations

from typing import Any

from app import create_app


def test_forwarded_headers_are_believed_only_when_configured(tmp_path):
    from flask import request, url_for

    def probe_app(**config: Any) -> Any:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.db'}",
                          "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "proxy-secret", **config})
        app.add_url_rule("/probe", "probe", lambda: {
            "scheme": request.scheme, "client": request.remote_addr, "host": request.host,
            "login": url_for("auth.login", _external=True)})
        return app

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
                 "X-Forwarded-Host": "wuye.example.gov.cn"}
    behind = probe_app(PROXY_COUNT=1).test_client().get("/probe", headers=forwarded).json
    assert behind == {"scheme": "https", "client": "203.0.113.9", "host": "wuye.example.gov.cn",
                      "login": "https://wuye.example.gov.cn/login"}
    direct = probe_app().test_client().get("/probe", headers=forwarded).json
    assert direct["scheme"] == "http" and direct["client"] == "127.0.0.1"  # forged headers ignored
    assert direct["host"] == "localhost"
