"""Simplified Chinese by default; a user can switch to English."""

from __future__ import annotations


def test_interface_is_chinese_by_default_and_switches_to_english(client_for):
    c = client_for("street")
    page = c.get("/admin/estate/").text
    assert "列表" in page and "创建" in page  # Flask-Admin's own zh_Hans_CN catalog
    c.get("/lang/en?next=/admin/estate/")
    english = c.get("/admin/estate/").text
    assert "List" in english and "Create" in english
    assert "Estates" in english  # our own labels have English too
    c.get("/lang/zh_Hans_CN")
    assert "列表" in c.get("/admin/estate/").text


def test_error_pages_are_chinese_without_traces(client_for):
    c = client_for("street")
    response = c.get("/admin/estate/details/?id=999999")
    assert response.status_code == 404
    assert "页面不存在" in response.text and "Traceback" not in response.text
