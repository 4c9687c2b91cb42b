"""The street's structure: reference data from the seed text, loaded idempotently,
seen only by the street it belongs to."""

from __future__ import annotations

import io
import re

from sqlalchemy import inspect as sa_inspect

from models import db, declared_models
from models.estates import Estate
from models.governance import (Community, Duty, LeaderRole, LeadershipGroup, LeadershipMember,
                               OrgKind, OrgUnit, Street)

from .helpers import Client, field_errors, flashes, row_id


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, every column: content, not just counts."""
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
                    db.select(table).order_by(*table.primary_key.columns)).all()]
                for table in db.metadata.sorted_tables}


def test_loading_reference_data_twice_leaves_the_same_rows(app):
    before = snapshot(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "reference", "--street", "示例街道"])
    assert result.exit_code == 0 and "本次新增 0 条" in result.output
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0
    after = snapshot(app)
    assert after == before, [t for t in before if after[t] != before[t]]


PILOTS = [("江滨社区", "永乐花园"), ("后溪洋社区", "后溪公寓小区"), ("鸿燕社区", "黄山新村一路"),
          ("红山社区", "双龙小区"), ("黄山社区", "贮木场新村")]


def test_a_new_street_starts_with_the_texts_communities_and_pilots(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "reference", "--street", "参考街道"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        street = db.session.scalar(db.select(Street).where(Street.name == "参考街道"))
        estates = db.session.execute(
            db.select(Community.name, Estate.name, Estate.is_demo, Estate.is_pilot, Estate.note)
            .join(Estate.community).where(Community.street_id == street.id)).all()
        communities = db.session.scalars(db.select(Community.name).where(Community.street_id == street.id)).all()
        units = db.session.scalars(db.select(OrgUnit.name).where(OrgUnit.community_id.isnot(None),
                                                                 OrgUnit.street_id == street.id)).all()
    assert sorted(communities) == sorted(c for c, _ in PILOTS)
    # only the five estates the text names, real (not demo) and pilots; none of the made-up ones
    assert sorted((c, e) for c, e, *_ in estates) == sorted(PILOTS)
    assert all(not demo and pilot for _, _, demo, pilot, _ in estates)
    assert all("原文未载明类别" in note for *_, note in estates)   # the class is ours, and says so
    assert sorted(units) == sorted(f"{c}{kind}" for c, _ in PILOTS for kind in ("物业管理监督小组", "物业管理委员会"))

    before = snapshot(app)
    again = runner.invoke(args=["seed", "reference", "--street", "参考街道"])
    assert again.exit_code == 0 and "本次新增 0 条" in again.output
    assert snapshot(app) == before


def test_another_street_of_the_district_can_load_the_structure_without_the_texts_communities(app):
    result = app.test_cli_runner().invoke(args=["seed", "reference", "--street", "邻街道", "--no-pilots"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        street = db.session.scalar(db.select(Street).where(Street.name == "邻街道"))
        assert db.session.scalars(db.select(Community).where(Community.street_id == street.id)).all() == []
        departments = db.session.scalar(db.select(db.func.count()).select_from(OrgUnit).where(
            OrgUnit.street_id == street.id, OrgUnit.kind == OrgKind.DEPARTMENT))
    assert departments == 7


def test_reference_structure_as_the_text_words_it(app):
    with app.app_context():
        street = db.session.scalar(db.select(Street).where(Street.name == "示例街道"))
        units = {u.name: u for u in db.session.scalars(db.select(OrgUnit).where(OrgUnit.street_id == street.id))}
        departments = [u for u in units.values() if u.kind == OrgKind.DEPARTMENT]
        assert {d.name for d in departments} == {"街道城建科", "街道财政所", "街道市容卫生管理办公室",
                                                 "街道司法所", "街道社会事务科", "街道综合科", "街道纪工委"}
        assert units["街道城建科"].duties[0].text.startswith("负责研究制定辖区内住宅区物业管理的发展战略")
        assert len(units["街道物业管理办公室"].duties) == 6
        assert len(units["街道物业管理应急维修服务站"].duties) == 6
        assert units["街道物业管理应急维修服务站"].hotline_24h
        assert "30分钟内到场" in units["街道物业管理应急维修服务站"].duties[2].text
        assert len(units["街道物业管理服务中心"].duties) == 9
        assert len(units["街道物业管理矛盾投诉调解站"].duties) == 6
        for community in ("江滨社区", "后溪洋社区", "鸿燕社区", "红山社区", "黄山社区"):
            assert units[f"{community}物业管理监督小组"].kind == OrgKind.SUPERVISION_GROUP
            assert units[f"{community}物业管理委员会"].kind == OrgKind.PM_COMMITTEE
        jiangbin = db.session.scalar(db.select(Community).where(Community.name == "江滨社区"))
        assert len(jiangbin.duties) == 5
        group = db.session.scalar(db.select(LeadershipGroup).where(LeadershipGroup.street_id == street.id))
        titles = {m.name: (m.role, m.position) for m in group.members}
        assert titles["沈萌"] == (LeaderRole.LEADER, "街道党工委副书记、办事处主任")
        assert titles["郑文珍"][0] == titles["陈旭"][0] == LeaderRole.DEPUTY
        assert titles["蔡莹"][0] == LeaderRole.OFFICE_DIRECTOR
        assert group.office_host == "社区办"


def test_a_street_sees_only_its_own_structure(app, client_for):
    admin = client_for("admin")
    assert admin.post("/admin/street/new/", {"name": "第二街道"}).status_code == 302
    second = row_id(app, Street, name="第二街道")
    assert admin.post("/admin/community/new/", {"name": "外街社区", "street": str(second)}).status_code == 302
    community = row_id(app, Community, name="外街社区")
    assert admin.post("/admin/estate/new/", {"name": "外街小区", "community": str(community),
                                             "estate_class": "first"}).status_code == 302
    # another street of the district: its structure, not the text's own communities
    assert app.test_cli_runner().invoke(args=["seed", "reference", "--street", "第二街道",
                                              "--no-pilots"]).exit_code == 0
    # the foreign rows exist (the administrator sees them), so their absence below means something
    assert "外街小区" in admin.get("/admin/estate/?search=外街").text
    assert "外街社区物业管理监督小组" in admin.get("/admin/org_unit/?search=外街").text

    street = client_for("street")
    for url, foreign, own in [
        ("/admin/street/", "第二街道", "示例街道"),
        ("/admin/community/", "外街社区", "江滨社区"),
        ("/admin/estate/?search=外街", "外街小区", None),
        ("/admin/org_unit/?search=外街", "外街社区物业管理监督小组", None),
        ("/admin/leadership_group/", "第二街道", "示例街道"),
    ]:
        page = street.get(url).text
        if foreign:
            assert foreign not in page, url
        if own:
            assert own in page, url
    with app.app_context():
        foreign_unit = db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.name == "外街社区物业管理委员会"))
        foreign_duty = db.session.scalar(db.select(Duty.id).join(Duty.unit).where(OrgUnit.street_id == second))
    assert street.get(f"/admin/org_unit/details/?id={foreign_unit}").status_code == 404
    # both streets have the text's duties word for word: the list holds only this street's
    with app.app_context():
        def matching(street_id):
            return db.session.scalar(db.select(db.func.count()).select_from(Duty).join(Duty.unit).where(
                OrgUnit.street_id == street_id, Duty.text.contains("受理调解")))
        own, foreign = matching(row_id(app, Street, name="示例街道")), matching(second)
    assert own > 0 and foreign > 0
    page = street.get("/admin/duty/?search=受理调解&page_size=100").text
    assert page.count('<td class="col-text">') == own
    assert street.get(f"/admin/duty/edit/?id={foreign_duty}").status_code == 404
    # and the second street's own data is all there for a user bound to it
    result = app.test_cli_runner().invoke(args=[
        "users", "create", "second", "--role", "street_staff", "--street", "第二街道",
        "--password", "secret123"])
    assert result.exit_code == 0, result.output
    page = Client(app).login("second", "secret123").get("/admin/org_unit/?page_size=100").text
    assert "外街社区物业管理监督小组" in page and "江滨社区物业管理监督小组" not in page


def communities_named(app, name: str) -> list[tuple[str, str]]:
    with app.app_context():
        return sorted(db.session.execute(db.select(Street.name, Community.name).join(Community.street)
                                         .where(Community.name == name)).all())


def test_two_streets_may_each_have_a_community_of_the_same_name(app, client_for):
    admin = client_for("admin")
    assert admin.post("/admin/street/new/", {"name": "第二街道"}).status_code == 302
    second = str(row_id(app, Street, name="第二街道"))
    r = admin.post("/admin/community/new/", {"name": "江滨社区", "street": second})
    assert r.status_code == 302, flashes(r.text)
    assert communities_named(app, "江滨社区") == [("示例街道", "江滨社区"), ("第二街道", "江滨社区")]
    # and an estate of the same name in each
    with app.app_context():
        twin = db.session.scalar(db.select(Community.id).where(Community.street_id == int(second)))
    r = admin.post("/admin/estate/new/", {"name": "永乐花园", "community": str(twin), "estate_class": "first"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Estate)
                                 .where(Estate.name == "永乐花园")) == 2

    # within one street a name is taken once: refused on the name field, nothing written
    r = admin.post("/admin/community/new/", {"name": "江滨社区", "street": second})
    assert r.status_code == 200
    assert field_errors(r.text, "name") == ["第二街道已有名为“江滨社区”的社区"]
    assert "「社区名称」：第二街道已有名为“江滨社区”的社区" in flashes(r.text)
    assert communities_named(app, "江滨社区") == [("示例街道", "江滨社区"), ("第二街道", "江滨社区")]
    houxi = row_id(app, Community, name="后溪洋社区")
    first = str(row_id(app, Street, name="示例街道"))
    r = client_for("street").post(f"/admin/community/edit/?id={houxi}", {"name": "江滨社区", "street": first})
    assert field_errors(r.text, "name") == ["示例街道已有名为“江滨社区”的社区"]
    assert communities_named(app, "后溪洋社区") == [("示例街道", "后溪洋社区")]


def test_an_ambiguous_community_name_in_an_import_is_refused_not_guessed(app, client_for):
    """Street staff see one 江滨社区; the administrator sees two and must not get either."""
    admin = client_for("admin")
    admin.post("/admin/street/new/", {"name": "第二街道"})
    admin.post("/admin/community/new/", {"name": "江滨社区", "street": str(row_id(app, Street, name="第二街道"))})
    sheet = "小区名称,所属社区,小区类别\n同名社区的小区,江滨社区,一类\n".encode("utf-8")

    def upload(client):
        return client.post("/admin/estate/import/", {"file": (io.BytesIO(sheet), "小区.csv")},
                           content_type="multipart/form-data", follow_redirects=True).text

    assert "第2行「所属社区」：“江滨社区”对应多条记录，无法确定" in re.sub(r"\s+", "", upload(admin))
    assert "检查通过：共 1 行" in upload(client_for("street"))


def test_the_leader_reads_every_registry_and_changes_none(app, client_for):
    leader = client_for("leader")
    for model in declared_models():
        base = f"/admin/{model.__tablename__}/"
        allowed = model.__admin__.perms.allows("leader", "read")
        assert leader.get(base).status_code == (200 if allowed else 403), model
        if not allowed:
            continue
        assert leader.get(f"{base}new/").status_code == 403, model
        assert leader.post(f"{base}new/", {"name": "x"}).status_code == 403, model
        with app.app_context():
            row = db.session.scalar(db.select(model).limit(1))
            pk = sa_inspect(row).identity[0] if row is not None else None
        if pk is None:
            continue
        assert leader.get(f"{base}details/?id={pk}").status_code == 200, model
        assert leader.get(f"{base}edit/?id={pk}").status_code == 403, model
        assert leader.post(f"{base}delete/", {"id": str(pk)}).status_code == 403, model
        for transition in getattr(model.__admin__.workflow, "transitions", ()):
            r = leader.post(f"{base}transition/{transition.name}/?id={pk}", {})
            assert r.status_code == 403, (model, transition.name)


def test_an_org_unit_of_a_community_kind_needs_a_community(app, client_for):
    street = client_for("street")
    street_id = row_id(app, Street, name="示例街道")
    r = street.post("/admin/org_unit/new/", {"street": str(street_id), "kind": "supervision_group",
                                             "name": "无社区监督小组"})
    assert r.status_code == 200 and "社区物业管理监督小组须属于一个社区" in r.text
    jiangbin = row_id(app, Community, name="江滨社区")
    r = street.post("/admin/org_unit/new/", {"street": str(street_id), "community": str(jiangbin),
                                             "kind": "supervision_group", "name": "第二个监督小组"})
    assert r.status_code == 200 and "江滨社区已有社区物业管理监督小组" in r.text
    with app.app_context():
        assert db.session.scalar(db.select(OrgUnit).where(OrgUnit.name.in_(
            ["无社区监督小组", "第二个监督小组"]))) is None


def test_only_one_group_leader(app, client_for):
    street = client_for("street")
    with app.app_context():
        group = db.session.scalar(db.select(LeadershipGroup))
        group_id = group.id
    r = street.post("/admin/leadership_member/new/", {"group": str(group_id), "name": "另一人",
                                                      "role": "leader", "sort_order": "9"})
    assert r.status_code == 200
    assert field_errors(r.text, "role") == ["领导小组只能有一名组长/主任（已有：沈萌）"]
    assert row_id(app, LeadershipMember, name="另一人") is None


def test_community_list_shows_its_committee_and_supervision_group(client_for):
    page = client_for("street").get("/admin/community/").text
    assert "江滨社区物业管理委员会" in page and "江滨社区物业管理监督小组" in page
