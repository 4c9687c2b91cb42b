"""Spreadsheets in and out: one import path for every importable model, exports that
Excel reads in Chinese and that never run a formula."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from models import db
from models.kernel.audit import AuditAction, AuditLog
from models.estates import Estate

from .helpers import flashes, problems, upload, xlsx

HEADERS = ["小区名称", "所属社区", "地址", "小区类别", "管理模式", "户数"]


def count_estates(app, prefix: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Estate).where(Estate.name.like(f"{prefix}%")))


def test_import_estates_one_bad_row_named_then_clean_file_committed(app, client_for):
    street = client_for("street")
    bad = xlsx([HEADERS, ["导入小区甲", "江滨社区", "江滨路1号", "一类", "市场化物管", 120],
                ["导入小区乙", "江滨社区", "", "二类", "", "120户"],
                ["导入小区丙", "江滨社区", "", "四类", "", 80]])
    page = upload(street, "estate", bad, "小区台账.xlsx").text
    found = problems(page)
    assert "第3行「户数」：应为数字，不要带单位或文字（如“120户”应填120）" in found
    assert any(p.startswith("第4行「小区类别」：“四类”不是可选值") for p in found)
    assert len(found) == 2
    assert "未导入任何数据" in page and 'id="commit-button"' not in page
    assert page.count('class="table-danger"') == 2          # the two bad cells, highlighted
    assert count_estates(app, "导入小区") == 0

    good = xlsx([HEADERS, ["导入小区甲", "江滨社区", "江滨路1号", "一类", "市场化物管", 120],
                 ["导入小区乙", "江滨社区", "", "二类", "", 120]])
    page = upload(street, "estate", good, "小区台账.xlsx").text
    assert "检查通过：共 2 行" in page and count_estates(app, "导入小区") == 0   # nothing before confirming
    commit = re.search(r'action="([^"]+/commit/)"', page).group(1)
    done = street.post(commit, {}, follow_redirects=True).text
    assert "已导入 2 条记录" in done
    assert count_estates(app, "导入小区") == 2
    with app.app_context():
        created = db.session.scalars(db.select(AuditLog).where(
            AuditLog.model == "estate", AuditLog.action == AuditAction.CREATE,
            AuditLog.row_label.like("导入小区%"))).all()
        assert len(created) == 2 and all("导入" in e.actor for e in created)


@pytest.mark.parametrize("content, filename, message", [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "照片.xlsx", "文件不是电子表格"),
    (b"", "空.csv", "文件是空的"),
    ("\ufeff小区名称,社区\n甲,江滨社区\n".encode("utf-8"), "错列.csv", "无法识别的列：社区"),
    ("小区名称,所属社区,小区类别\n".encode("utf-8"), "只有表头.csv", "没有数据行"),
])
def test_files_that_cannot_be_imported_say_why(app, client_for, content, filename, message):
    page = upload(client_for("street"), "estate", content, filename).text
    assert any(message in p for p in problems(page)), problems(page)


def test_duplicate_keys_in_the_file_and_in_the_database(app, client_for):
    page = upload(client_for("street"), "estate", xlsx([
        HEADERS, ["重复小区", "江滨社区", "", "一类", "", 10], ["重复小区", "江滨社区", "", "一类", "", 10],
        ["永乐花园", "江滨社区", "", "一类", "", 10]]), "重复.xlsx").text
    found = problems(page)
    # an estate's name is unique within its community (two communities may share one)
    assert "第3行「所属社区、小区名称」：与第2行重复" in found
    assert any(p.startswith("第4行「所属社区、小区名称」：“江滨社区、永乐花园”已存在") for p in found)
    assert "第4行「小区名称」：江滨社区已有名为“永乐花园”的小区" in found
    assert count_estates(app, "重复小区") == 0


def test_an_estate_named_like_one_in_another_community_is_imported(app, client_for):
    street = client_for("street")
    page = upload(street, "estate", xlsx([HEADERS, ["永乐花园", "后溪洋社区", "", "二类", "", 40]]),
                  "同名.xlsx").text
    assert "检查通过：共 1 行" in page, problems(page)
    commit = re.search(r'action="([^"]+/commit/)"', page).group(1)
    assert "已导入 1 条记录" in street.post(commit, {}, follow_redirects=True).text
    with app.app_context():
        from models.governance import Community
        homes = db.session.scalars(db.select(Community.name).join(Estate.community)
                                   .where(Estate.name == "永乐花园")).all()
    assert sorted(homes) == ["后溪洋社区", "江滨社区"]


def test_gb18030_csv_from_excel_on_chinese_windows(app, client_for):
    content = "小区名称,所属社区,小区类别\nGBK小区,江滨社区,三类\n".encode("gb18030")
    page = upload(client_for("street"), "estate", content, "台账.csv").text
    assert "检查通过：共 1 行" in page


def test_a_date_the_calendar_does_not_have_is_named(app, client_for):
    header = ["小区", "物业服务企业", "起始日期"]
    page = upload(client_for("street"), "service_contract", xlsx([
        header, ["紫荆花园", "江滨物业服务有限公司", "6月31日"],
        ["紫荆花园", "江滨物业服务有限公司", "2026年6月31日"]]), "合同.xlsx").text
    found = problems(page)
    assert "第2行「起始日期」：“6月31日”缺少年份，请写成2026-06-30" in found
    assert "第3行「起始日期」：“2026年6月31日”不是有效日期" in found


def test_rows_outside_the_users_scope_are_refused(app, client_for):
    page = upload(client_for("community"), "estate", xlsx([
        HEADERS, ["越界小区", "红山社区", "", "一类", "", 10]]), "越界.xlsx").text
    assert "第2行「所属社区」：找不到“红山社区”（或不在您的管辖范围内）" in problems(page)


def test_model_rules_apply_to_imported_rows(app, client_for):
    page = upload(client_for("street"), "estate", xlsx([
        HEADERS, ["负数小区", "江滨社区", "", "一类", "", -5]]), "负数.xlsx").text
    assert "第2行「户数」：不能小于0" in problems(page)


def test_a_file_over_the_limit_is_refused_before_it_is_read(app, client_for):
    limit = app.config["IMPORT_MAX_BYTES"]
    page = upload(client_for("street"), "estate", b"x" * (limit + 1), "大文件.csv").text
    assert "文件过大" in " ".join(flashes(page))


def test_the_template_has_the_chinese_headers(app, client_for):
    response = client_for("street").get("/admin/estate/import/template/")
    book = load_workbook(io.BytesIO(response.data))
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[:3] == ["*小区名称", "*所属社区", "地址"] and "*小区类别" in headers
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    notes = {row[0].value: row[2].value for row in book["填写说明"].iter_rows(min_row=2)}
    assert notes["小区类别"] == "可选：一类、二类、三类"


@pytest.mark.parametrize("model", ["household", "committee_member", "four_in_one_member", "fee_bill", "service_contract"])
def test_an_export_lists_its_columns_in_the_order_of_the_import_template(client_for, model):
    # a sheet exported, edited and imported back: the columns both share come in one order
    street = client_for("street")
    template = load_workbook(io.BytesIO(street.get(f"/admin/{model}/import/template/").data)).worksheets[0]
    wanted = [str(c.value).lstrip("*") for c in template[1]]
    exported = next(csv.reader(io.StringIO(street.get(f"/admin/{model}/export/csv/").data.decode("utf-8-sig"))))
    shared = [h for h in exported if h in wanted]
    assert len(shared) >= 3 and shared == [h for h in wanted if h in shared], (shared, wanted)


def test_only_the_uploader_sees_their_file(app, client_for):
    page = upload(client_for("street"), "estate", xlsx([HEADERS, ["私人小区", "江滨社区", "", "一类", "", 1]]),
                  "私人.xlsx")
    job_url = re.search(r'data-status-url="([^"]+)status/"', page.text).group(1)
    assert client_for("admin").get(job_url).status_code == 404


# -- exports --------------------------------------------------------------------------


def test_xlsx_export_has_chinese_headers_scope_and_no_formulas(app, client_for):
    street = client_for("street")
    jiangbin = db_id(app, "江滨社区")
    r = street.post("/admin/estate/new/", {"name": "公式小区", "community": str(jiangbin), "estate_class": "first",
                                           "address": "=HYPERLINK(\"http://evil\",\"点我\")", "note": "@SUM(1+1)"})
    assert r.status_code == 302, flashes(r.text)
    book = load_workbook(io.BytesIO(client_for("community").get("/admin/estate/export/xlsx/").data))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["小区名称", "所属社区", "地址"] and "小区类别" in headers and "户数" in headers
    names = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert "永乐花园" in names and "双龙小区" not in names      # 江滨社区 only
    address = next(c for c in names["公式小区"] if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert address.value.startswith("'=") and address.data_type == "s"   # text, never a formula
    csv_response = client_for("community").get("/admin/estate/export/csv/")
    assert csv_response.data.startswith("\ufeff".encode("utf-8"))
    assert "filename*=UTF-8''%E5%B0%8F%E5%8C%BA_" in csv_response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "小区名称"


def test_an_xlsx_export_past_a_sheets_rows_goes_on_in_the_next_sheet(client_for, monkeypatch):
    # Excel stops at 1,048,576 rows and XlsxWriter drops the rest without a word; with
    # the limit shrunk to 20, the street's 56 estates must fill three sheets, none lost.
    import views.engine.exports

    monkeypatch.setattr(views.engine.exports, "SHEET_ROWS", 20)
    book = load_workbook(io.BytesIO(client_for("street").get("/admin/estate/export/xlsx/?sort=0").data))
    assert book.sheetnames == ["小区", "小区（2）", "小区（3）"]
    assert all(sheet.cell(1, 1).value == "小区名称" for sheet in book.worksheets)
    names = [row[0] for sheet in book.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert [sheet.max_row for sheet in book.worksheets] == [21, 21, 17]
    assert len(names) == len(set(names)) == 56


def test_exports_follow_the_current_search_and_filters(client_for):
    street = client_for("street")
    rows = list(csv.reader(io.StringIO(street.get("/admin/estate/export/csv/?search=宿舍").data.decode("utf-8-sig"))))
    assert len(rows) > 2 and all("宿舍" in r[0] for r in rows[1:])


def db_id(app, community: str) -> int:
    from models.governance import Community
    with app.app_context():
        return db.session.scalar(db.select(Community.id).where(Community.name == community))
