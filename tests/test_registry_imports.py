"""Each registry the street keeps in spreadsheets comes in through the one import path:
communities, companies, residents' archives and committee members (estates and
contracts are in test_spreadsheets.py). A row names its related record the way the
screens and exports show it."""

from __future__ import annotations

import csv
import io
import re

import pytest

from models import db, declared_models

from .helpers import problems, upload


def model_named(table: str) -> type:
    return next(m for m in declared_models() if m.__tablename__ == table)


def import_csv(client, table: str, rows: list[list[str]]) -> str:
    content = "\n".join(",".join(r) for r in rows).encode("utf-8-sig")
    page = upload(client, table, content, "登记表.csv").text
    assert "检查通过" in page, problems(page)
    commit = re.search(r'action="([^"]+/commit/)"', page).group(1)
    return client.post(commit, {}, follow_redirects=True).text


@pytest.mark.parametrize("table, rows, key, value", [
    ("community", [["社区名称", "所属街道", "社区主任"], ["导入社区", "示例街道", "赵主任"]],
     "name", "导入社区"),
    ("property_company", [["登记街道", "企业名称", "联系人"], ["示例街道", "导入物业有限公司", "钱经理"]],
     "name", "导入物业有限公司"),
    ("household", [["小区", "楼幢", "房号", "户主", "在住人数"], ["永乐花园", "1", "9901", "导入住户", "3"]],
     "head", "导入住户"),
    # the committee as every screen names it, not by its preparatory group's representative
    ("committee_member", [["业主委员会", "姓名", "职务", "楼幢", "房号"],
                          ["永乐花园第1届业主委员会", "导入委员", "委员", "1", "102"]],
     "name", "导入委员"),
])
def test_a_registry_is_imported_from_a_spreadsheet(app, client_for, table, rows, key, value):
    street = client_for("street")
    model = model_named(table)
    done = import_csv(street, table, rows)
    assert "已导入 1 条记录" in done
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(model)
                                 .where(getattr(model, key) == value)) == 1


def test_a_committee_is_found_and_exported_by_its_name(app, client_for):
    street = client_for("street")
    found = street.get("/admin/committee_member/ajax/lookup/?name=committee&query=永乐花园").get_json()
    assert [label for _, label in found] == ["永乐花园第1届业主委员会"]
    exported = street.get("/admin/committee_member/export/csv/").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and all(r["业主委员会"].endswith("届业主委员会") for r in rows)
