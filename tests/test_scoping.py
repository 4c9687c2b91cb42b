"""One scoping hook: a row outside the user's scope is refused on every screen.

The demo account ``community`` is bound to 江滨社区; 双龙小区 lies in 红山社区.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from models import db
from models.estates import Estate
from models.governance import Community

from .helpers import field_errors, row_id


@pytest.fixture
def outside(app):
    return row_id(app, Estate, name="双龙小区")


@pytest.fixture
def inside(app):
    return row_id(app, Estate, name="永乐花园")


@pytest.fixture
def community_user(client_for):
    return client_for("community")


def list_count(page: str) -> int:
    """The total Flask-Admin prints on the list tab: "列表 (11)"."""
    return int(re.search(r'class="nav-link active">[^<(]*\((\d+)\)</a>', page).group(1))


def estate_name(app, estate_id: int) -> str:
    with app.app_context():
        return db.session.get(Estate, estate_id).name


def test_list_and_count_show_only_rows_in_scope(app, community_user):
    page = community_user.get("/admin/estate/?page_size=100").text
    assert "永乐花园" in page
    assert "双龙小区" not in page
    with app.app_context():
        jiangbin = db.session.scalar(db.select(Community).where(Community.name == "江滨社区"))
        expected = db.session.scalar(db.select(db.func.count()).select_from(Estate)
                                     .where(Estate.community_id == jiangbin.id))
    assert list_count(page) == expected
    assert page.count('<td class="col-name">') == expected


@pytest.mark.parametrize("url", ["/admin/estate/details/?id={id}", "/admin/estate/edit/?id={id}",
                                 "/admin/estate/history/?id={id}"])
def test_reading_an_out_of_scope_row_is_refused(community_user, outside, url):
    response = community_user.get(url.format(id=outside))
    assert response.status_code == 404
    assert "双龙小区" not in response.text


def test_editing_an_out_of_scope_row_is_refused(app, community_user, outside):
    response = community_user.post(f"/admin/estate/edit/?id={outside}",
                                   {"name": "被篡改", "estate_class": "first"})
    assert response.status_code == 404
    assert estate_name(app, outside) == "双龙小区"


def test_deleting_an_out_of_scope_row_is_refused(app, community_user, outside):
    response = community_user.post("/admin/estate/delete/", {"id": str(outside)})
    assert response.status_code == 404
    assert estate_name(app, outside) == "双龙小区"


def test_bulk_action_with_an_out_of_scope_row_changes_nothing(app, community_user, inside, outside):
    response = community_user.post("/admin/estate/action/", {
        "action": "delete", "rowid": [str(inside), str(outside)]})
    assert response.status_code == 404
    assert estate_name(app, inside) == "永乐花园"
    assert estate_name(app, outside) == "双龙小区"


def test_export_leaves_out_rows_out_of_scope(community_user):
    data = community_user.get("/admin/estate/export/csv/").data.decode("utf-8-sig")
    names = {row[0] for row in csv.reader(io.StringIO(data))}
    assert "永乐花园" in names
    assert "双龙小区" not in names


def test_ajax_lookup_offers_only_communities_in_scope(community_user):
    found = community_user.get("/admin/estate/ajax/lookup/?name=community&query=社区").get_json()
    assert [label for _, label in found] == ["江滨社区"]
    assert community_user.get("/admin/estate/ajax/lookup/?name=community&query=红山").get_json() == []


def test_posting_an_out_of_scope_relation_id_is_refused(app, community_user, inside):
    hongshan = row_id(app, Community, name="红山社区")
    response = community_user.post(f"/admin/estate/edit/?id={inside}", {
        "name": "永乐花园", "community": str(hongshan), "estate_class": "first"})
    assert response.status_code == 200
    assert field_errors(response.text, "community") == ["所选记录不存在或不在您的管辖范围内"]
    with app.app_context():
        assert db.session.get(Estate, inside).community.name == "江滨社区"


def test_street_bound_user_sees_the_whole_street(client_for):
    page = client_for("street").get("/admin/estate/?page_size=100").text
    assert page.count('<td class="col-name">') == 56
    assert list_count(page) == 56


def test_estate_bound_user_sees_their_estate_and_reads_its_community(client_for):
    committee = client_for("committee")
    estates = committee.get("/admin/estate/").text
    assert estates.count('<td class="col-name">') == 1 and "永乐花园" in estates
    communities = committee.get("/admin/community/").text
    assert "江滨社区" in communities and "红山社区" not in communities
