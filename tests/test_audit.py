"""Every create, update and delete is recorded with old and new values, and shown."""

from __future__ import annotations

from models import db
from models.audit import AuditAction, AuditLog
from models.estates import Estate
from models.governance import Community

from .helpers import row_id


def entries_for(app, estate_id: int) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditLog).where(
            AuditLog.model == "estate", AuditLog.row_id == str(estate_id)).order_by(AuditLog.id)))


def test_create_update_delete_are_recorded_with_old_and_new_values(app, client_for):
    street = client_for("street")
    jiangbin = row_id(app, Community, name="江滨社区")
    street.post("/admin/estate/new/", {"name": "审计花园", "community": str(jiangbin),
                                       "estate_class": "second", "households": "120"})
    estate = row_id(app, Estate, name="审计花园")
    street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "审计花园", "community": str(jiangbin), "estate_class": "first", "households": "150"})

    created, updated = entries_for(app, estate)
    assert created.action == AuditAction.CREATE
    assert created.actor == "街道物业办 王敏（street）"
    assert created.changes["name"] == [None, "审计花园"]
    assert created.changes["community"] == [None, "江滨社区"]
    assert updated.action == AuditAction.UPDATE
    assert updated.changes == {"estate_class": ["second", "first"], "households": [120, 150]}

    street.post("/admin/estate/delete/", {"id": str(estate)})  # a registry: into the recycle bin
    deleted = entries_for(app, estate)[-1]
    assert deleted.action == AuditAction.DELETE
    assert deleted.changes["deleted_by"] == [None, "街道物业办 王敏（street）"]
    with app.app_context():
        assert db.session.get(Estate, estate).households == 150  # kept, to be restored


def test_a_row_deleted_for_real_leaves_its_last_values_in_the_trail(app, client_for):
    from models.governance import StaffMember

    street = client_for("street")
    with app.app_context():
        staff = db.session.scalar(db.select(StaffMember).limit(1))
        staff_id, name = staff.id, staff.name
    assert street.post("/admin/staff_member/delete/", {"id": str(staff_id)}).status_code == 302
    with app.app_context():
        assert db.session.get(StaffMember, staff_id) is None
        entry = db.session.scalars(db.select(AuditLog).where(
            AuditLog.model == "staff_member", AuditLog.row_id == str(staff_id)).order_by(AuditLog.id)).all()[-1]
    assert entry.action == AuditAction.DELETE
    assert entry.changes["name"] == [name, None]


def test_history_screen_shows_who_changed_what(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    page = street.get(f"/admin/estate/edit/?id={estate}")
    assert page.status_code == 200
    street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "永乐花园", "community": str(row_id(app, Community, name="江滨社区")),
        "estate_class": "first", "buildings": "99"})
    history = street.get(f"/admin/estate/history/?id={estate}").text
    assert "街道物业办 王敏（street）" in history
    assert "楼幢数" in history and ">99<" in history
    assert "修改" in history


def test_a_bulk_action_is_recorded(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="丽景湾")
    street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)})
    with app.app_context():
        created = db.session.scalar(db.select(AuditLog).where(
            AuditLog.model == "pilot", AuditLog.action == AuditAction.CREATE).order_by(AuditLog.id.desc()))
        assert created.changes["estate"] == [None, "丽景湾"]
        note = db.session.scalar(db.select(AuditLog.note).where(AuditLog.action == AuditAction.ACTION)
                                 .order_by(AuditLog.id.desc()))
    assert note == "小区：标记为试点，共 1 条"


def test_failed_write_leaves_no_audit_entry(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    before = len(entries_for(app, estate))
    response = street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "永乐花园", "community": str(row_id(app, Community, name="江滨社区")),
        "estate_class": "first", "households": "-5"})
    assert response.status_code == 200
    assert len(entries_for(app, estate)) == before


def test_list_rows_link_to_their_history_but_the_trails_own_rows_do_not(client_for):
    admin = client_for("admin")
    assert "fa-history" in admin.get("/admin/estate/").text
    trail = admin.get("/admin/audit_log/").text
    assert trail.count('class="list-buttons-column"') > 1 and "fa-history" not in trail
