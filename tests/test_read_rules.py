"""Who may see whom: accounts have a scope, residents' identities follow the archive's
read rule, the monthly report follows the role, and an edit must say which version it
was made from (Hardening II, findings 2, 3, 9 and 10)."""

from __future__ import annotations

import pytest

from models import db
from models.accounts import User
from models.accounts import Role
from models.estates import Estate
from models.fees import FeeRefund, LowIncomeStatus
from models.governance import Community, Street
from models.supervision import FourInOneGroup, FourInOneMember

from .helpers import flashes, problems, row_id, upload, xlsx
from .probes import read_form


@pytest.fixture
def other_street_account(app):
    """An account of another street, with a name nobody else has."""
    with app.app_context():
        street = Street(name="邻街道（账号测试）", district="示例区")
        community = Community(name="邻社区（账号测试）", street=street)
        account = User(username="neighbour", display_name="邻街道 赵某", role=Role.COMMUNITY_STAFF)
        account.password_hash = "x"
        account.communities = [community]
        db.session.add_all([street, community, account])
        db.session.commit()
        return account.id


def lookup(client, query: str = "") -> dict[int, str]:
    response = client.get("/admin/four_in_one_member/ajax/lookup/", query_string={"name": "user", "query": query})
    assert response.status_code == 200
    return {key: text for key, text in response.get_json()}


def test_a_community_account_looks_up_only_the_accounts_of_its_own_part_of_the_street(
        app, client_for, other_street_account):
    found = lookup(client_for("community"))
    with app.app_context():
        names = {u.id: u.username for u in db.session.scalars(db.select(User))}
    usernames = {names[key] for key in found}
    assert "community" in usernames                      # itself, bound to 江滨社区
    assert "street" in usernames                         # its street's accounts, read upward
    assert "committee" in usernames                      # 永乐花园 lies in 江滨社区
    assert "admin" not in usernames                      # bound to nothing: seen by no one else
    assert "neighbour" not in usernames                  # another street
    assert other_street_account not in lookup(client_for("community"), "赵某")


def test_a_member_cannot_be_linked_to_an_account_out_of_scope(app, client_for, other_street_account):
    client = client_for("community")
    group = row_id(app, FourInOneGroup, estate_id=row_id(app, Estate, name="永乐花园"))
    response = client.post("/admin/four_in_one_member/new/", {
        "group": str(group), "name": "越界账号成员", "kind": "owners", "user": str(other_street_account)})
    assert response.status_code == 200
    assert "所选记录不存在或不在您的管辖范围内" in response.text
    assert row_id(app, FourInOneMember, name="越界账号成员") is None


def test_an_import_cannot_link_an_account_out_of_scope(app, client_for, other_street_account):
    client = client_for("community")
    template = client.get("/admin/four_in_one_member/import/template/")
    from openpyxl import load_workbook
    import io

    headers = [c.value.lstrip("*") for c in load_workbook(io.BytesIO(template.data)).active[1]]
    row = {"四位一体小组": None, "姓名": "导入越界成员", "代表类别": "社区业主代表", "系统账号": "neighbour"}
    with app.app_context():
        group = db.session.scalar(db.select(FourInOneGroup).join(FourInOneGroup.estate)
                                  .where(Estate.name == "永乐花园"))
        row["四位一体小组"] = str(group)
    page = upload(client, "four_in_one_member", xlsx([headers, [row.get(h) for h in headers]]), "m.xlsx")
    assert any("系统账号" in p and "找不到" in p for p in problems(page.text)), problems(page.text)
    assert row_id(app, FourInOneMember, name="导入越界成员") is None


def test_the_group_form_lists_no_accounts_in_a_plain_select(app, client_for):
    client = client_for("community")
    group = row_id(app, FourInOneGroup, estate_id=row_id(app, Estate, name="永乐花园"))
    page = client.get(f"/admin/four_in_one_group/edit/?id={group}").text
    assert 'name="members-0-name"' in page       # the inline member rows are there …
    assert "members-0-user" not in page           # … without an account select of every account
    assert "系统管理员（admin）" not in page


@pytest.mark.parametrize("username", ["station", "mediator"])
@pytest.mark.parametrize("model", [LowIncomeStatus, FeeRefund], ids=lambda m: m.__tablename__)
def test_other_stations_staff_cannot_read_residents_identities(app, client_for, username, model):
    client = client_for(username)
    base = f"/admin/{model.__tablename__}/"
    with app.app_context():
        key = db.session.scalar(db.select(model.id).limit(1))
    assert key is not None, "the demo has rows of this model"
    for url in ("", f"details/?id={key}", "export/csv/", "export/xlsx/", f"history/?id={key}"):
        assert client.get(base + url).status_code == 403, url
    assert model.__admin__.label not in client.get("/admin/").text  # not in the menu either


@pytest.mark.parametrize("username", ["center", "street", "community"])
def test_who_keeps_the_archive_still_reads_them(app, client_for, username):
    client = client_for(username)
    for model in (LowIncomeStatus, FeeRefund):
        assert client.get(f"/admin/{model.__tablename__}/").status_code == 200


def test_the_rule_is_derived_from_the_placing_rows(app):
    """Nothing is declared twice: the household archive's rule reaches every model placed
    through a household."""
    from models.kernel.access import placing_parents
    from models.service_center import Household

    for model in (LowIncomeStatus, FeeRefund):
        assert Household.__admin__ in placing_parents(model.__admin__)
        assert model.__admin__.station is None


@pytest.mark.parametrize("username, shown, hidden", [
    ("mediator", ["矛盾调解"], ["应急报修", "巡逻不足两次"]),
    ("station", ["应急报修"], ["矛盾调解", "巡逻不足两次"]),
    ("center", ["巡逻不足两次"], ["应急报修", "矛盾调解"]),
    ("street", ["应急报修", "矛盾调解", "巡逻不足两次"], []),
])
def test_the_monthly_report_shows_only_the_sections_the_role_may_read(client_for, username, shown, hidden):
    page = client_for(username).get("/admin/report/")
    assert page.status_code == 200
    for text in shown:
        assert text in page.text, text
    for text in hidden:
        assert text not in page.text, text


def test_the_late_page_shows_patrol_gaps_only_to_who_may_read_patrols(client_for):
    assert 'id="patrol-gaps"' in client_for("center").get("/admin/late/").text
    assert 'id="patrol-gaps"' not in client_for("station").get("/admin/late/").text


def test_an_edit_without_the_version_it_was_made_from_is_refused(app, client_for):
    client = client_for("street")
    key = row_id(app, Estate, name="永乐花园")
    form, _ = read_form(client.get(f"/admin/estate/edit/?id={key}").text)
    form["note"] = "没有版本号的修改"
    del form["row_version"]
    response = client.post(f"/admin/estate/edit/?id={key}", form, versioned=False)
    assert response.status_code == 200
    assert any("缺少记录的版本信息" in f for f in flashes(response.text))
    with app.app_context():
        assert db.session.get(Estate, key).note != "没有版本号的修改"
    # the same edit with the version the form showed goes through
    response = client.post(f"/admin/estate/edit/?id={key}", {**form, "row_version": str(_version(app, key))},
                           versioned=False)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Estate, key).note == "没有版本号的修改"


def _version(app, key: int) -> int:
    with app.app_context():
        return db.session.get(Estate, key).version
