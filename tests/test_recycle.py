"""Registries delete into a recycle bin: gone from every screen, restorable, audited."""

from __future__ import annotations


from sqlalchemy import select

from models import db
from models.kernel.audit import AuditAction, AuditLog
from models.repairs import RepairTicket
from models.estates import Estate
from models.governance import Community

from .helpers import flashes, row_id


def _delete(client, estate: int):
    return client.post("/admin/estate/delete/", {"id": str(estate), "url": "/admin/estate/"},
                       follow_redirects=True)


def test_a_deleted_estate_leaves_every_screen_but_its_records_keep_its_name(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    home_before = street.get("/admin/").text
    assert "永乐花园" in street.get("/admin/estate/?search=永乐").text
    page = _delete(street, estate)
    assert any("已移入回收站" in m for m in flashes(page.text))

    assert "永乐花园" not in street.get("/admin/estate/?search=永乐").text
    assert street.get(f"/admin/estate/details/?id={estate}").status_code == 404
    assert street.get(f"/admin/estate/edit/?id={estate}").status_code == 404
    lookup = street.get("/admin/repair_ticket/ajax/lookup/?name=estate&query=永乐&offset=0&limit=10").text
    assert "永乐花园" not in lookup
    exported = street.get("/admin/estate/export/csv/").data.decode("utf-8-sig")
    assert "永乐花园" not in exported
    count = lambda text: int(text.split('id="stat-estates"')[1].split(">")[1].split("<")[0])  # noqa: E731
    assert count(street.get("/admin/").text) == count(home_before) - 1

    # its tickets stay, and still say which estate they were for
    with app.app_context():
        ticket = db.session.scalar(select(RepairTicket.id).where(RepairTicket.estate_id == estate).limit(1))
    assert "永乐花园" in street.get(f"/admin/repair_ticket/details/?id={ticket}").text


def test_restoring_brings_it_back_and_both_moves_are_audited(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    _delete(street, estate)
    bin_page = street.get("/admin/recycle/").text
    assert "永乐花园" in bin_page and "街道物业办 王敏（street）" in bin_page

    page = street.post("/admin/recycle/restore/", {"model": "estate", "id": str(estate)}, follow_redirects=True)
    assert any("已恢复" in m for m in flashes(page.text))
    assert "永乐花园" in street.get("/admin/estate/?search=永乐").text
    assert "永乐花园" not in street.get("/admin/recycle/").text
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditLog).where(
            AuditLog.model == "estate", AuditLog.row_id == str(estate)).order_by(AuditLog.id))][-2:]
    assert actions == [AuditAction.DELETE, AuditAction.RESTORE]


def test_bulk_delete_also_goes_to_the_recycle_bin(app, client_for):
    street = client_for("street")
    ids = [row_id(app, Estate, name=n) for n in ("丽景湾", "永乐花园")]
    data = {"action": "delete", "rowid": [str(i) for i in ids]}
    assert street.post("/admin/estate/action/", data).status_code == 302
    with app.app_context():
        rows = db.session.scalars(select(Estate).where(Estate.id.in_(ids))).all()
        assert len(rows) == 2 and all(r.deleted_at is not None for r in rows)
    bin_page = street.get("/admin/recycle/").text
    assert "丽景湾" in bin_page and "永乐花园" in bin_page


def test_others_neither_see_nor_restore_what_is_outside_their_scope(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="丽景湾")  # not in 江滨社区
    with app.app_context():
        assert db.session.get(Estate, estate).community.name != "江滨社区"
    _delete(street, estate)
    community = client_for("community")  # 江滨社区's staff
    assert "丽景湾" not in community.get("/admin/recycle/").text
    assert community.post("/admin/recycle/restore/", {"model": "estate", "id": str(estate)}).status_code == 404
    leader = client_for("leader")  # may delete nothing: no recycle bin
    assert leader.get("/admin/recycle/").status_code == 403
    assert leader.post("/admin/recycle/restore/", {"model": "estate", "id": str(estate)}).status_code == 403
    with app.app_context():
        assert db.session.get(Estate, estate).deleted_at is not None


def test_a_name_in_the_recycle_bin_is_still_held_and_the_message_says_where(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    jiangbin = row_id(app, Community, name="江滨社区")
    _delete(street, estate)
    page = street.post("/admin/estate/new/", {"name": "永乐花园", "community": str(jiangbin),
                                              "estate_class": "first"})
    assert "江滨社区已有名为“永乐花园”的小区（在回收站中，可恢复它或换一个名称）" in page.text
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Estate).where(Estate.name == "永乐花园")) == 1
    # restored, it is the one 永乐花园 again
    street.post("/admin/recycle/restore/", {"model": "estate", "id": str(estate)})
    with app.app_context():
        assert db.session.get(Estate, estate).deleted_at is None


def test_deleted_estates_count_for_no_target_or_rate(app, client_for):
    """The rollout's targets and the rates' households leave the recycle bin out, both
    for every estate and for a user's scope (what the screens pass)."""
    from datetime import date

    from models.accounts import User
    from models.rates import RateCode, service_rates
    from models.rollout import Target
    from models.kernel.scoping import ids_in_scope

    def households() -> tuple[int, int]:
        with app.app_context():
            db.session.expire_all()
            user = db.session.scalar(select(User).where(User.username == "street"))
            year = (date(2026, 1, 1), date(2026, 12, 31))
            return tuple(next(r.denominator for r in service_rates(ids, *year) if r.code == RateCode.COMPLAINT_RATE)
                         for ids in (None, ids_in_scope(Estate, user)))

    coordinator = client_for("coordinator")
    estate = row_id(app, Estate, name="永乐花园")  # a pilot
    with app.app_context():
        before = {t.id: t.current for t in db.session.scalars(select(Target))}
        pilot_target = next(t.id for t in db.session.scalars(select(Target)) if t.metric.value == "pilots")
        its_households = db.session.get(Estate, estate).households
    households_before = households()
    _delete(client_for("street"), estate)
    with app.app_context():
        db.session.expire_all()
        after = {t.id: t.current for t in db.session.scalars(select(Target))}
    assert after[pilot_target] == before[pilot_target] - 1
    assert its_households and households() == tuple(h - its_households for h in households_before)
    assert coordinator.get("/admin/rollout/").status_code == 200

