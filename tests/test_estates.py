"""The first slice as a user meets it: menus in Chinese, 56 estates filterable by class."""

from __future__ import annotations

import json
import re

import pytest

from models import db
from models.estates import Estate, EstateClass
from models.governance import Community

from .helpers import field_errors, flashes, row_id


def filter_index(page: str, label: str, operation: str) -> int:
    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', page, re.S).group(1))
    return next(f["index"] for f in groups[label] if f["operation"] == operation)


def test_menus_show_communities_and_estates_in_chinese(client_for):
    home = client_for("street").get("/admin/").text
    # the menu headings themselves, not any text that happens to contain the words
    for category in ("治理架构", "小区与自治"):
        assert re.search(rf'class="dropdown-toggle nav-link"[^>]*>(?:\s|<!--.*?-->)*{category}<', home), category
    assert re.search(r'href="/admin/">\s*首页</a>', home)
    assert re.search(r'href="/admin/community/">\s*社区</a>', home)
    assert re.search(r'href="/admin/estate/">\s*小区</a>', home)


@pytest.mark.parametrize("klass, expected", [(EstateClass.FIRST, 15), (EstateClass.SECOND, 21),
                                             (EstateClass.THIRD, 20)])
def test_estate_list_filtered_by_class(client_for, klass, expected):
    street = client_for("street")
    page = street.get("/admin/estate/?page_size=100").text
    assert page.count('<td class="col-name">') == 56
    index = filter_index(page, "小区类别", "等于")
    filtered = street.get(f"/admin/estate/?page_size=100&flt0_{index}={klass.value}").text
    assert filtered.count('<td class="col-name">') == expected


def test_the_five_pilots_sit_in_their_communities(app):
    with app.app_context():
        pilots = db.session.execute(db.select(Estate.name, Community.name).join(Estate.community)
                                    .where(Estate.is_pilot).order_by(Estate.name)).all()
    assert sorted(pilots) == sorted([("永乐花园", "江滨社区"), ("后溪公寓小区", "后溪洋社区"),
                                     ("黄山新村一路", "鸿燕社区"), ("双龙小区", "红山社区"),
                                     ("贮木场新村", "黄山社区")])


def test_made_up_estates_are_marked_as_demo(app):
    with app.app_context():
        demo = db.session.scalar(db.select(db.func.count()).select_from(Estate).where(Estate.is_demo))
        assert demo == 51
        assert db.session.scalar(db.select(Estate.is_demo).where(Estate.name == "永乐花园")) is False


def test_bad_numbers_are_refused_with_the_field_named(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    jiangbin = str(row_id(app, Community, name="江滨社区"))
    response = street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "永乐花园", "community": jiangbin, "estate_class": "first", "households": "-3"})
    assert response.status_code == 200
    assert field_errors(response.text, "households") == ["应在 0 到 100000 之间"]
    with app.app_context():
        assert db.session.get(Estate, estate).households >= 0


def estates_named(app, name: str) -> list[tuple[str, str]]:
    with app.app_context():
        return sorted(db.session.execute(db.select(Community.name, Estate.name).join(Estate.community)
                                         .where(Estate.name == name)).all())


def test_duplicate_name_in_one_community_is_refused_in_chinese(app, client_for):
    street = client_for("street")
    jiangbin = str(row_id(app, Community, name="江滨社区"))
    response = street.post("/admin/estate/new/", {"name": "永乐花园", "community": jiangbin,
                                                  "estate_class": "first"})
    assert response.status_code == 200
    assert field_errors(response.text, "name") == ["江滨社区已有名为“永乐花园”的小区"]
    assert "「小区名称」：江滨社区已有名为“永乐花园”的小区" in flashes(response.text)
    # renaming another estate of the community into the same name is refused too
    other = row_id(app, Estate, name="江滨华庭")
    response = street.post(f"/admin/estate/edit/?id={other}", {"name": "永乐花园", "community": jiangbin,
                                                              "estate_class": "first"})
    assert field_errors(response.text, "name") == ["江滨社区已有名为“永乐花园”的小区"]
    assert estates_named(app, "永乐花园") == [("江滨社区", "永乐花园")]
    assert estates_named(app, "江滨华庭") == [("江滨社区", "江滨华庭")]


def test_the_same_estate_name_in_another_community_is_accepted(app, client_for):
    street = client_for("street")
    houxi = str(row_id(app, Community, name="后溪洋社区"))
    response = street.post("/admin/estate/new/", {"name": "永乐花园", "community": houxi,
                                                  "estate_class": "second"})
    assert response.status_code == 302, flashes(response.text)
    assert estates_named(app, "永乐花园") == [("后溪洋社区", "永乐花园"), ("江滨社区", "永乐花园")]


def test_an_estate_needs_a_community(app, client_for):
    street = client_for("street")
    response = street.post("/admin/estate/new/", {"name": "无主小区", "estate_class": "first"})
    assert response.status_code == 200
    assert field_errors(response.text, "community") == ["该字段是必填字段。"]
    assert field_errors(response.text, "name") == []
    assert estates_named(app, "无主小区") == []


def test_mark_pilot_bulk_action(app, client_for):
    coordinator = client_for("coordinator")
    ids = [str(row_id(app, Estate, name=n)) for n in ("丽景湾", "紫荆花园")]
    with app.app_context():
        assert not any(db.session.get(Estate, int(i)).is_pilot for i in ids)
    response = coordinator.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": ids})
    assert response.status_code == 302
    with app.app_context():
        assert all(db.session.get(Estate, int(i)).is_pilot for i in ids)


def _flag_filter(client, path: str, label: str) -> int:
    return filter_index(client.get(path).text, label, "等于")


def test_estates_with_nobody_managing_them_are_flagged(app, client_for):
    from datetime import timedelta

    from models import now
    from models.estates import PropertyCompany

    street = client_for("street")
    index = _flag_filter(street, "/admin/estate/", "无人管理")
    flagged = street.get(f"/admin/estate/?page_size=100&flt0_{index}=1").text
    # the demo leaves the last two market-managed estates without a contract
    assert flagged.count('<td class="col-name">') == 2
    assert "贮木场新村" not in flagged  # 二类, affordable housing: the service center covers it
    with app.app_context():
        name = re.search(r'<td class="col-name">\s*(\S+)\s*</td>', flagged).group(1)
        estate = db.session.scalar(db.select(Estate).where(Estate.name == name))
        company = db.session.scalar(db.select(PropertyCompany).limit(1))
        estate_id, company_id = estate.id, company.id
    today = now().date()
    r = street.post("/admin/service_contract/new/", {
        "estate": str(estate_id), "company": str(company_id), "counterparty": "owners_committee",
        "start_on": (today - timedelta(days=1)).isoformat()})
    assert r.status_code == 302
    flagged = street.get(f"/admin/estate/?page_size=100&flt0_{index}=1").text
    assert flagged.count('<td class="col-name">') == 1
    with app.app_context():
        assert db.session.get(Estate, estate_id).company_name == db.session.get(PropertyCompany, company_id).name


def test_overlapping_contracts_are_refused(app, client_for):
    from models.estates import ServiceContract

    street = client_for("street")
    with app.app_context():
        contract = db.session.scalar(db.select(ServiceContract).where(ServiceContract.end_on.is_(None)))
        estate_id, company_id, start = contract.estate_id, contract.company_id, contract.start_on
    r = street.post("/admin/service_contract/new/", {
        "estate": str(estate_id), "company": str(company_id), "start_on": start.isoformat(),
        "end_on": start.replace(year=start.year + 1).isoformat()})
    assert r.status_code == 200 and "与已有合同时间重叠" in r.text
    r = street.post("/admin/service_contract/new/", {
        "estate": str(estate_id), "company": str(company_id), "start_on": "2030-01-01",
        "end_on": "2029-01-01"})
    assert r.status_code == 200 and "终止日期不能早于起始日期" in r.text


def test_home_page_counts_the_flags_in_scope(client_for):
    street = client_for("street").get("/admin/").text
    assert re.search(r"业主委员会：逾期未备案</a>\s*<span[^>]*>1</span>", street)
    assert re.search(r"小区：无人管理</a>\s*<span[^>]*>2</span>", street)
    assert re.search(r"四位一体监督小组：未配齐</a>\s*<span[^>]*>2</span>", street)
    committee = client_for("committee").get("/admin/").text  # bound to 永乐花园 only
    assert re.search(r"业主委员会：逾期未备案</a>\s*<span[^>]*>0</span>", committee)
    assert re.search(r"业主委员会：届满前90天未启动换届</a>\s*<span[^>]*>1</span>", committee)


def test_a_second_review_of_a_company_for_the_same_year_names_both_fields(app, client_for):
    # A key of two columns: SQLite names them as company_review.company_id, .year;
    # PostgreSQL only in its detail, Key (company_id, year)=(…). Both must read in Chinese.
    from models.estates import CompanyReview, PropertyCompany

    admin = client_for("admin")
    with app.app_context():
        company = db.session.scalar(db.select(PropertyCompany.id).order_by(PropertyCompany.id))
        before = db.session.scalar(db.select(db.func.count()).select_from(CompanyReview))
    form = {"company": str(company), "year": "2031", "rating": "good"}
    assert admin.post("/admin/company_review/new/", form).status_code == 302
    again = admin.post("/admin/company_review/new/", {**form, "rating": "fail"})
    assert again.status_code == 200
    assert any("「物业服务企业」、「年度」与已有记录重复" in f for f in flashes(again.text)), flashes(again.text)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(CompanyReview)) == before + 1
