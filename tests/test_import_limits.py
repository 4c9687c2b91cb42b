"""Imports against files made to hurt, and how long uploaded files live.

A spreadsheet is read row by row, cut to the columns an import can use, so memory
does not follow what a file declares or how many cells it really has. An uploaded file
stays on disk only while its job waits for 确认导入; every account holds only a few."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import Iterable

import pytest
from openpyxl import Workbook, load_workbook

from models import db
from models.kernel.imports import ImportJob
from models.kernel.spreadsheets import read_table

from .helpers import flashes, problems, upload, xlsx

HEADERS = ["小区名称", "所属社区", "地址", "小区类别", "管理模式", "户数"]
ROOT = Path(__file__).resolve().parent.parent

# -- workbooks written by hand --------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{OFFICE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{OFFICE}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{OFFICE}.sharedStrings+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{OFFICE}.styles+xml"/></Types>')


def workbook(rows: Iterable[str], dimension: str | None = None, strings: Iterable[str] = (),
             styles: str | None = None, workbook_pr: str = "") -> bytes:
    """An XLSX whose sheet is ``rows`` (``<row>`` elements), zipped while it is written,
    so that a sheet of millions of elements costs the test little memory."""
    parts = '<Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/sheet1.xml"/>' % RELS
    parts += '<Relationship Id="rId2" Type="%s/sharedStrings" Target="sharedStrings.xml"/>' % RELS
    if styles:
        parts += '<Relationship Id="rId3" Type="%s/styles" Target="/xl/styles.xml"/>' % RELS
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                                        f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}">{workbook_pr}'
                                            f'<sheets><sheet name="表" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PACKAGE}">{parts}</Relationships>')
        if styles:
            archive.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
        _stream(archive, "xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">', (f"<si>{s}</si>" for s in strings), "</sst>")
        _stream(archive, "xl/worksheets/sheet1.xml",
                f'<worksheet xmlns="{MAIN}">{declared}<sheetData>', rows,
                "</sheetData></worksheet>")
    return out.getvalue()


def _stream(archive: zipfile.ZipFile, name: str, head: str, body: Iterable[str], tail: str) -> None:
    with archive.open(name, "w") as part:
        part.write(head.encode())
        batch: list[str] = []
        for piece in body:
            batch.append(piece)
            if len(batch) == 10_000:
                part.write("".join(batch).encode())
                batch.clear()
        part.write(("".join(batch) + tail).encode())


def text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def row(number: int, *cells: str) -> str:
    return f'<row r="{number}">{"".join(cells)}</row>'


HEADER_ROW = row(1, *(text(f"{col}1", h) for col, h in zip("ABCDEF", HEADERS)))


def estate_row(number: int, name: str) -> str:
    return row(number, text(f"A{number}", name), text(f"B{number}", "江滨社区"), text(f"D{number}", "一类"))


# -- memory: each file is checked in a process of its own, its peak measured ----------------

MEASURE = """
import json, re, resource, sys
limit = 4 << 30  # an unbounded parse dies here, not by taking the machine
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from app import create_app
from models import db
from models.accounts import User
from models.estates import Estate
from models.kernel.imports import parse
from tests.helpers import xlsx

def status(field):  # in bytes, from Linux's account of this process
    with open("/proc/self/status") as out:
        return int(re.search(field + r":\\s+(\\d+) kB", out.read()).group(1)) * 1024

url, path, background = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "INSTANCE_PATH": sys.argv[4]})
with app.app_context():
    user = db.session.scalar(db.select(User).where(User.username == "street"))
    # as in a running worker: everything imported and warm before the file comes
    parse(Estate, xlsx([["小区名称", "所属社区", "小区类别"], ["预热", "江滨社区", "一类"]]), "warm.xlsx", user)
    data = open(path, "rb").read()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak so far is forgotten: from here it counts from the present size
    before = status("VmRSS")
    parsed = parse(Estate, data, "x.xlsx", user, (lambda done, total: None) if background else None)
    peak = status("VmHWM")
print(json.dumps({"growth": peak - before, "problems": [p.text() for p in parsed.problems[:3]]}))
"""

MB = 1024 * 1024
FAR = 1_048_576  # Excel's last row; XFD is its last column (16,384)
CASES = {
    # the review's file: the sheet claims every cell Excel has, and has two of them far out
    "declared dimension": (lambda: workbook(chain(
        [HEADER_ROW, row(5, text("XFD5", "远处"))], (f'<row r="{n}"/>' for n in range(10, 50_010)),
        [row(FAR, text(f"XFD{FAR}", "最远处"))]), dimension=f"A1:XFD{FAR}"),
        False, 64 * MB, "第5行「小区名称」：必填，不能为空"),
    "a million cells in one row": (lambda: workbook(
        [HEADER_ROW, "<row>" + "<c><v>1</v></c>" * 1_000_000 + "</row>"]),
        False, 64 * MB, "第2行「所属社区」：找不到“1”"),
    "a million empty rows": (lambda: workbook(chain([HEADER_ROW], ("<row/>" for _ in range(1_000_000)))),
                             True, 64 * MB, "文件：文件只有表头，没有数据行"),
    # as many strings as the part may hold (16 MB unzipped), each one kept
    "shared strings at their limit": (lambda: workbook(
        [HEADER_ROW, row(2, '<c r="A2" t="s"><v>699999</v></c>')],
        strings=(f"<t>{n}</t>" for n in range(700_000))), False, 64 * MB, "第2行「所属社区」：必填，不能为空"),
    # CSV: csv holds a row's fields at once, so a line may be only so long
    "a CSV line of ten million commas": (lambda: b"\xef\xbb\xbf" + "小区名称,所属社区,小区类别\n".encode()
                                         + b"," * (10 * MB - 64) + b"\n", False, 64 * MB,
                                         "文件：CSV文件第2行超过20万个字符，不是可导入的表格"),
    "CSV lines of emoji just short of the limit": (lambda: ("小区名称,所属社区,小区类别\n" + ("😀," * 99_990 + "\n") * 19)
                                                   .encode(), False, 64 * MB, "第2行「所属社区」：找不到“😀”"),
    # one row past the limit, every row valid: all of them read and checked before the last
    "one row too many": (lambda: workbook(chain([HEADER_ROW], (estate_row(n, f"压测小区{n}")
                                                               for n in range(2, 100_003)))),
                         False, 128 * MB, "文件：一次最多导入100000行，本文件超过100000行"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_file_made_to_exhaust_memory_is_answered_within_bounds(database_url, tmp_path, case):
    build, background, bound, answer = CASES[case]
    path = tmp_path / "crafted.xlsx"
    path.write_bytes(build())
    assert path.stat().st_size < 10 * MB          # what an upload may be
    result = subprocess.run([sys.executable, "-c", MEASURE, database_url, str(path), "1" if background else "0",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert re.sub(r"\s+", "", measured["problems"][0]).startswith(answer), measured["problems"]
    assert measured["growth"] < bound, f"{case}: grew {measured['growth'] / MB:.0f} MB"


def test_the_review_file_gets_a_chinese_answer_on_the_page(client_for):
    # the 1.6 KB file of the review, and one with a real data row far down
    street = client_for("street")
    crafted = workbook([HEADER_ROW, row(20000, text("XFD20000", "x"))], dimension="A1:XFD20000")
    page = upload(street, "estate", crafted, "小区台账.xlsx")
    assert page.status_code == 200 and problems(page.text) == [
        f"第20000行「{label}」：必填，不能为空" for label in ("小区名称", "所属社区", "小区类别")]
    far = workbook([HEADER_ROW, row(20000, text("A20000", "远处小区"), text("B20000", "江滨社区"),
                                    text("D20000", "一类"), text("F20000", "120户"))], dimension="A1:XFD20000")
    found = problems(upload(street, "estate", far, "小区台账.xlsx").text)
    assert found == ["第20000行「户数」：应为数字，不要带单位或文字（如“120户”应填120）"]


def test_the_declared_dimension_is_ignored_either_way(client_for):
    # a dimension smaller than the data must not cut columns off (openpyxl's reader would)
    small = workbook([HEADER_ROW, row(2, text("A2", "小尺寸小区"), text("B2", "江滨社区"), text("D2", "一类"),
                                      '<c r="F2"><v>80</v></c>')], dimension="A1:B2")
    page = upload(client_for("street"), "estate", small, "台账.xlsx").text
    assert "检查通过：共 1 行" in page, problems(page)
    assert re.search(r"<th>2</th>\s*<td[^>]*>小尺寸小区</td>(.*?)</tr>", page, re.S).group(1).count(">80<") == 1


def test_a_header_running_past_the_columns_is_named_not_read(client_for):
    wide = workbook([row(1, *(text(f"{col}1", h) for col, h in zip("ABCDEF", HEADERS)), text("XFD1", "远处的列")),
                     estate_row(2, "宽表小区")])
    found = problems(upload(client_for("street"), "estate", wide, "宽表.xlsx").text)
    assert len(found) == 1 and found[0].startswith("第1行：第21列之后还有内容，表头不能超过21列（应为：小区名称、"), found


def test_rows_past_the_limit_are_refused_without_reading_on(app, client_for, monkeypatch):
    import models.kernel.imports
    from models.accounts import User
    from models.estates import Estate

    monkeypatch.setattr(models.kernel.imports, "MAX_ROWS", 3)
    rows = [HEADERS] + [[f"限额小区{n}", "江滨社区", "", "一类"] for n in range(4)]
    page = upload(client_for("street"), "estate", xlsx(rows), "超限.xlsx").text
    assert problems(page) == ["文件：一次最多导入3行，本文件超过3行"]
    assert "检查通过：共 3 行" in upload(client_for("street"), "estate", xlsx(rows[:4]), "不超限.xlsx").text
    # large files count their rows first, for the progress counter: the same answer, at once
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "street"))
        seen = []
        parsed = models.kernel.imports.parse(Estate, xlsx(rows), "超限.xlsx", user, lambda done, total: seen.append(total))
        assert [p.text() for p in parsed.problems] == ["文件：一次最多导入 3 行，本文件超过 3 行"] and seen == []
        parsed = models.kernel.imports.parse(Estate, xlsx(rows[:4]), "不超限.xlsx", user,
                                      lambda done, total: seen.append(total))
        assert not parsed.problems and len(parsed.rows) == 3 and set(seen) == {3}
        db.session.rollback()


def test_a_file_wrong_throughout_lists_the_first_problems_only(client_for, monkeypatch):
    import models.kernel.imports

    monkeypatch.setattr(models.kernel.imports, "MAX_PROBLEMS", 4)
    rows = [HEADERS] + [[f"无社区小区{n}", "", "", "一类"] for n in range(10)]
    found = problems(upload(client_for("street"), "estate", xlsx(rows), "全错.xlsx").text)
    assert found[:4] == [f"第{n}行「所属社区」：必填，不能为空" for n in range(2, 6)]
    assert found[4:] == ["文件：问题已达4处，检查到此为止（其余的行未检查）；请改正以上问题后重新上传"]


def test_blank_rows_anywhere_are_skipped_and_rows_keep_their_numbers(client_for):
    content = "\n".join(["", ",,,", "小区名称,所属社区,小区类别,户数", ",,,", "空行后小区,江滨社区,一类,十"]).encode()
    assert problems(upload(client_for("street"), "estate", content, "空行.csv").text) == [
        "第5行「户数」：应为数字，不要带单位或文字"]
    sheet = workbook([row(3, text("A3", " ")), row(4, *(text(f"{col}4", h) for col, h in zip("ABCDEF", HEADERS))),
                      row(9, text("A9", "空行后小区"), text("B9", "江滨社区"), text("D9", "四类"))])
    found = problems(upload(client_for("street"), "estate", sheet, "空行.xlsx").text)
    assert len(found) == 1 and found[0].startswith("第9行「小区类别」：“四类”不是可选值"), found


def test_cells_read_as_openpyxl_reads_them():
    # the reader replaces openpyxl's for imports: a workbook openpyxl writes reads the same
    from datetime import date, datetime

    book = Workbook()
    sheet = book.active
    rows = [["文字", 12, 3.5, True, None, date(2026, 6, 30), datetime(2026, 6, 30, 9, 30), "=1+1"],
            [None, None, "第二行", -7, 1e20, False, "  空格  ", "x" * 40]]
    for values in rows:
        sheet.append(values)
    sheet["H3"] = "=SUM(B1:B2)"
    out = io.BytesIO()
    book.save(out)
    ours = [r.cells for r in read_table(out.getvalue(), "x.xlsx", 8)]
    theirs = [list(r) for r in load_workbook(io.BytesIO(out.getvalue()), read_only=True, data_only=True)
              .worksheets[0].iter_rows(values_only=True)]
    assert ours == [r for r in theirs if any(v is not None for v in r)]   # empty rows are not read
    assert len(ours) == 2 and ours[0][5].year == 2026


def test_shared_strings_styles_and_dates_as_excel_writes_them():
    styles = ('<numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
              '</numFmts><cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>'
              '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="176"/><xf numFmtId="31"/></cellXfs>')
    strings = ["<t>甲</t>", "<r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r><rPh><t>ふりがな</t></rPh>",
               "<t xml:space=\"preserve\"> 空格 </t>"]
    cells = ['<c r="A1" t="s"><v>0</v></c>', '<c r="B1" t="s"><v>1</v></c>', '<c r="C1" t="s"><v>2</v></c>',
             '<c r="D1" s="1"><v>46203</v></c>', '<c r="E1" s="2"><v>46203</v></c>', '<c r="F1" s="3"><v>46203</v></c>',
             '<c r="G1" s="0"><v>46203</v></c>', '<c r="H1" t="b"><v>1</v></c>', '<c r="I1" t="e"><v>#N/A</v></c>',
             '<c r="J1" t="str"><f>A1</f><v>甲</v></c>']
    data = workbook([row(1, *cells)], strings=strings, styles=styles)
    from datetime import datetime

    day = datetime(2026, 6, 30)
    assert [r.cells for r in read_table(data, "x.xlsx", 10)] == [
        ["甲", "富文本", " 空格 ", day, day, day, 46203, True, "#N/A", "甲"]]
    mac = workbook([row(1, '<c r="A1" s="1"><v>1</v></c>')], styles=styles, workbook_pr='<workbookPr date1904="1"/>')
    assert [r.cells for r in read_table(mac, "x.xlsx", 1)] == [[datetime(1904, 1, 2)]]


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:len(data) // 2], "文件已损坏或不是Excel（.xlsx）文件"),
    (lambda data: workbook(["<row><c r='1A'><v>1</v></c></row>"]), "文件已损坏或不是Excel（.xlsx）文件"),
    (lambda data: workbook(['<row><c r="A1" t="s"><v>7</v></c></row>']), "文件已损坏或不是Excel（.xlsx）文件"),
    (lambda data: workbook([HEADER_ROW, "<row><c>"]), "文件已损坏或不是Excel（.xlsx）文件"),
    (lambda data: _with_doctype(data), "文件已损坏或不是Excel（.xlsx）文件"),
])
def test_a_damaged_workbook_is_named_not_a_failure(client_for, damage, message):
    data = damage(workbook([HEADER_ROW, estate_row(2, "损坏小区")]))
    assert problems(upload(client_for("street"), "estate", data, "坏.xlsx").text) == [f"文件：{message}"]


def _with_doctype(data: bytes) -> bytes:
    """The sheet, rewritten with an entity that would expand a thousandfold."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith("sheet1.xml"):
                content = b'<!DOCTYPE w [<!ENTITY a "' + b"a" * 1000 + b'">]>' + content.replace(b"<t>", b"<t>&a;")
            archive.writestr(info.filename, content)
    return out.getvalue()


def test_a_part_declaring_more_than_the_limit_is_refused(client_for, monkeypatch):
    import models.kernel.spreadsheets

    monkeypatch.setattr(models.kernel.spreadsheets, "XLSX_SHEET_BYTES", 1024 * 1024)
    data = workbook(chain([HEADER_ROW], ("<row/>" for _ in range(200_000))))
    found = problems(upload(client_for("street"), "estate", data, "大.xlsx").text)
    assert found == ["文件：表格内容过大（解压后超过1MB），请删去多余的行、列和格式，或分成几个文件导入"]


def test_a_csv_row_of_many_commas_is_cut_to_the_columns(client_for):
    content = ("小区名称,所属社区,小区类别\n逗号小区,江滨社区,一类" + "," * 150_000 + "\n").encode()
    page = upload(client_for("street"), "estate", content, "逗号.csv").text
    assert "检查通过：共 1 行" in page, problems(page)
    # as in any column without a header, what lies far to the right of a data row is not read
    content = ("小区名称,所属社区,小区类别\n远处小区,江滨社区,一类" + "," * 150_000 + "远处的内容\n").encode()
    page = upload(client_for("street"), "estate", content, "逗号.csv").text
    assert "检查通过：共 1 行" in page and "远处的内容" not in page, problems(page)
    content = ("小区名称,所属社区,小区类别" + "," * 150_000 + "远处的列\n远处小区,江滨社区,一类\n").encode()
    found = problems(upload(client_for("street"), "estate", content, "逗号.csv").text)
    assert len(found) == 1 and found[0].startswith("第1行：第21列之后还有内容"), found


# -- the uploaded files: kept only while they can still be imported ---------------------------


@pytest.fixture
def imports_dir(app) -> Path:
    from views.engine.imports import import_root

    with app.test_request_context():
        return import_root()


def stored(app, filename: str) -> list[ImportJob]:
    with app.app_context():
        return db.session.scalars(db.select(ImportJob).where(ImportJob.filename == filename)).all()


def commit_url(page: str) -> str:
    return re.search(r'action="([^"]+/commit/)"', page).group(1)


@pytest.mark.parametrize("content, filename, shown", [
    (random.Random(7).randbytes(64 * 1024), "随机.xlsx", "文件不是电子表格"),
    (xlsx([HEADERS, ["有错小区", "江滨社区", "", "四类"]]), "有错.xlsx", "不是可选值"),
])
def test_a_refused_file_leaves_the_disk_but_its_page_stays(app, client_for, imports_dir, content, filename, shown):
    street = client_for("street")
    page = upload(street, "estate", content, filename).text
    assert any(shown in p for p in problems(page)), problems(page)
    job, = stored(app, filename)
    assert job.state == "invalid" and not (imports_dir / job.stored).exists()
    again = street.get(f"/admin/estate/import/{job.id}/").text
    assert any(shown in p for p in problems(again))


def test_a_checked_file_waits_for_confirmation_then_goes(app, client_for, imports_dir):
    street = client_for("street")
    page = upload(street, "estate", xlsx([HEADERS, ["等待小区", "江滨社区", "", "一类"]]), "等待.xlsx").text
    job, = stored(app, "等待.xlsx")
    assert job.state == "valid" and (imports_dir / job.stored).is_file()
    done = street.post(commit_url(page), {}, follow_redirects=True).text
    assert "已导入 1 条记录" in done
    job, = stored(app, "等待.xlsx")
    assert job.state == "done" and not (imports_dir / job.stored).exists()
    assert "等待小区" in street.get(f"/admin/estate/import/{job.id}/").text   # the preview is kept


def test_a_failed_check_leaves_no_file(app, client_for, imports_dir, monkeypatch):
    import views.engine.imports

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(views.engine.imports, "parse", broken)
    page = upload(client_for("street"), "estate", xlsx([HEADERS, ["失败小区", "江滨社区", "", "一类"]]), "失败.xlsx")
    assert "导入失败，数据未写入" in page.text
    job, = stored(app, "失败.xlsx")
    assert job.state == "failed" and not (imports_dir / job.stored).exists()


def test_a_file_waiting_a_day_expires(app, client_for, imports_dir):
    street = client_for("street")
    page = upload(street, "estate", xlsx([HEADERS, ["过期小区", "江滨社区", "", "一类"]]), "过期.xlsx").text
    job, = stored(app, "过期.xlsx")
    with app.app_context():
        db.session.get(ImportJob, job.id).created_at -= timedelta(hours=25)
        db.session.commit()
    refused = street.post(commit_url(page), {}, follow_redirects=True).text
    assert "文件已过期，请重新上传" in flashes(refused)
    assert "检查通过后超过 24 小时未确认导入，文件已删除，数据未写入；请重新上传" in refused
    assert 'id="commit-button"' not in refused
    job, = stored(app, "过期.xlsx")
    assert job.state == "expired" and not (imports_dir / job.stored).exists()
    with app.app_context():
        from models.estates import Estate
        assert not db.session.scalar(db.select(db.func.count()).select_from(Estate).where(Estate.name == "过期小区"))


def test_an_upload_clears_expired_files_and_strays(app, client_for, imports_dir):
    # another account's file past its day, and a file no job knows (an old version's leftover)
    upload(client_for("community"), "estate", xlsx([HEADERS, ["旧小区", "江滨社区", "", "一类"]]), "旧.xlsx")
    old, = stored(app, "旧.xlsx")
    with app.app_context():
        db.session.get(ImportJob, old.id).created_at -= timedelta(hours=30)
        db.session.commit()
    stray = imports_dir / "0123456789abcdef0123456789abcdef.upload"
    stray.write_bytes(b"left over" * 100)
    fresh = imports_dir / "fedcba9876543210fedcba9876543210.upload"
    fresh.write_bytes(b"being saved right now")
    hour_ago = time.time() - 3600
    os.utime(stray, (hour_ago, hour_ago))
    upload(client_for("street"), "estate", b"\x89PNG", "图.xlsx")
    old, = stored(app, "旧.xlsx")
    assert old.state == "expired" and not (imports_dir / old.stored).exists()
    assert not stray.exists() and fresh.exists()
    fresh.unlink()


def test_a_new_upload_replaces_the_one_waiting(app, client_for, imports_dir):
    street = client_for("street")
    upload(street, "estate", xlsx([HEADERS, ["第一版小区", "江滨社区", "", "一类"]]), "第一版.xlsx")
    first, = stored(app, "第一版.xlsx")
    page = upload(street, "estate", xlsx([HEADERS, ["第二版小区", "江滨社区", "", "一类"]]), "第二版.xlsx").text
    assert "检查通过：共 1 行" in page
    first, = stored(app, "第一版.xlsx")
    assert first.state == "expired" and not (imports_dir / first.stored).exists()
    assert "已上传了新的文件，此文件作废" in street.get(f"/admin/estate/import/{first.id}/").text


def test_an_account_holds_only_a_few_files(app, client_for, imports_dir, monkeypatch):
    import views.engine.imports

    monkeypatch.setattr(views.engine.imports, "PENDING_FILES", 2)
    street = client_for("street")
    files = {"estate": xlsx([HEADERS, ["份额小区", "江滨社区", "", "一类"]]),
             "community": xlsx([["社区名称", "所属街道"], ["份额社区", "示例街道"]]),
             "property_company": xlsx([["登记街道", "企业名称"], ["示例街道", "份额物业有限公司"]])}
    for model in ("estate", "community"):
        assert "检查通过" in upload(street, model, files[model], f"份额{model}.xlsx").text
    refused = upload(street, "property_company", files["property_company"], "份额多一个.xlsx")
    assert refused.status_code == 429
    assert flashes(refused.text) == ["您已有 2 个文件正在检查或等待确认导入（共 0.0 MB），每个账号最多 2 个、共 30 MB；"
                                     "请先确认导入这些文件，或等它们过期（检查通过 24 小时后自动删除）再上传"]
    assert stored(app, "份额多一个.xlsx") == []
    # another account is not held back by this one; the same kind again replaces the waiting file
    assert "检查通过" in upload(client_for("community"), "estate", files["estate"], "他人.xlsx").text
    assert "检查通过" in upload(street, "estate", files["estate"], "份额estate2.xlsx").text
    monkeypatch.setattr(views.engine.imports, "PENDING_FILES", 5)
    monkeypatch.setattr(views.engine.imports, "PENDING_BYTES", 1024)
    too_big = upload(street, "property_company", files["property_company"] + b"\0" * 1024, "份额大.xlsx")
    assert too_big.status_code == 429
    assert flashes(too_big.text)[0].startswith("您已有 2 个文件正在检查或等待确认导入")


def test_a_job_that_cannot_be_saved_leaves_no_file(app, client_for, imports_dir):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    def refuse(*args):
        raise OperationalError("INSERT INTO import_job", {}, Exception("connection failed"))
    before = set(imports_dir.glob("*")) if imports_dir.exists() else set()
    event.listen(ImportJob, "before_insert", refuse)
    try:
        page = upload(client_for("street"), "estate", xlsx([HEADERS, ["存不下小区", "江滨社区", "", "一类"]]),
                      "存不下.xlsx")
    finally:
        event.remove(ImportJob, "before_insert", refuse)
    assert page.status_code == 503
    after = set(imports_dir.glob("*")) if imports_dir.exists() else set()
    assert after == before


def test_a_file_too_large_is_refused_on_the_page_a_script_shows(app, client_for):
    limit = app.config["IMPORT_MAX_BYTES"]
    page = upload(client_for("street"), "estate", b"x" * (limit + 1), "大文件.csv")
    assert page.status_code == 413 and flashes(page.text) == ["文件过大：最大 10 MB"]
    assert 'id="import-form"' in page.text


def test_a_file_the_disk_cannot_take_fails_cleanly(app, client_for, imports_dir, monkeypatch):
    import views.engine.imports

    def full(data, path):
        path.write_bytes(data[:10])  # the disk filled part-way
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(views.engine.imports, "store", full)
    page = upload(client_for("street"), "estate", xlsx([HEADERS, ["满盘小区", "江滨社区", "", "一类"]]), "满盘.xlsx")
    assert page.status_code == 200 and "服务器无法保存上传的文件，数据未写入" in page.text
    job, = stored(app, "满盘.xlsx")
    assert job.state == "failed" and not (imports_dir / job.stored).exists()


def test_odd_cells_cost_nothing_and_say_what_they_are(client_for):
    # a reference a megabyte long is a cell far to the right; 1e999 is read as infinity
    odd = workbook([HEADER_ROW, row(2, text("A2", "奇怪小区"), text("B2", "江滨社区"), text("D2", "一类"),
                                    '<c r="F2"><v>1e999</v></c>', text("A" * 1_000_000 + "2", "远处"))])
    started = time.monotonic()
    found = problems(upload(client_for("street"), "estate", odd, "奇怪.xlsx").text)
    assert found == ["第2行「户数」：应为数字"] and time.monotonic() - started < 30
