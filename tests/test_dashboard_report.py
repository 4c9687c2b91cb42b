"""The dashboard (home page) and the monthly report, for the user's scope."""

from __future__ import annotations

import json
import re

from models import now


def dashboard(client) -> dict:
    page = client.get("/admin/").text
    return json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S).group(1))


def test_the_dashboard_counts_the_users_scope(client_for):
    street = dashboard(client_for("street"))
    assert street["classes"]["labels"] == ["一类", "二类", "三类"] and street["classes"]["values"] == [15, 21, 20]
    assert sum(street["modes"]["values"]) == 56
    assert street["late_total"] == sum(street["late"]["values"]) > 0
    assert sum(street["indicators"]["values"]) == 25
    assert {t["text"] for t in street["targets"]} >= {"年内抓好五个试点,并认真推广"}
    committee = dashboard(client_for("committee"))          # 永乐花园 only
    assert committee["classes"]["values"] == [1, 0, 0]
    assert committee["late_total"] < street["late_total"]


def test_charts_are_served_by_the_app_itself(client_for):
    page = client_for("street").get("/admin/").text
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert all(not s.startswith(("http:", "https:", "//")) for s in scripts), scripts
    assert any("chart.umd.min.js" in s for s in scripts)
    assert client_for("street").get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200


def test_the_monthly_report_prints_and_downloads_as_a_pdf(client_for):
    street = client_for("street")
    month = now().date().strftime("%Y-%m")
    page = street.get(f"/admin/report/?month={month}").text
    for heading in ("一、本月案件办理", "二、现在已超期的事项", "三、监督检查与整改", "四、推进情况", "五、上次领导小组会议"):
        assert heading in page
    assert "各社区本月内完成小区摸底" in page                     # the last meeting's decisions
    pdf = street.get(f"/admin/report/pdf/?month={month}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert any(b"CJK" in part for part in pdf_objects(pdf.data))  # a Chinese font is embedded
    assert "filename*=UTF-8''" in pdf.headers["Content-Disposition"]


def pdf_objects(data: bytes) -> list[bytes]:
    """The PDF's objects, with compressed streams inflated (font names hide in them)."""
    import zlib

    parts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[match.end():match.end() + 2_000_000]))
        except zlib.error:
            continue
    return parts


def test_the_report_counts_only_the_users_scope(client_for):
    month = now().date().strftime("%Y-%m")

    def reported(who: str) -> int:
        page = client_for(who).get(f"/admin/report/?month={month}").text
        return int(re.search(r"接报 <strong>(\d+)</strong>", page).group(1))

    assert reported("committee") < reported("street")


def test_friendly_pages_and_own_password(client_for):
    street = client_for("street")
    assert "页面不存在" in street.get("/admin/no-such-page/").text
    page = street.get("/account/password")
    assert page.status_code == 200 and "当前密码" in page.text
    r = street.post("/account/password", {"current": "demo1234", "new": "short", "confirm": "short"})
    assert "密码至少 8 位" in r.text
    r = street.post("/account/password", {"current": "demo1234", "new": "newpass123", "confirm": "newpass123"})
    assert r.status_code == 302
