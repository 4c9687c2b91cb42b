"""Every create, update and delete is recorded with old and new values, and shown; the
trail is append-only for everyone, the auditor reads their street's part of it, and a
hash chain shows any entry altered or removed behind the application's back."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import db
from models.kernel.audit import AuditAction, AuditLog
from models.estates import Estate
from models.governance import Community, Street

from .helpers import Client, flashes, row_id
from .probes import list_count


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


# -- append-only: no one rewrites the trail ---------------------------------------------------

def newest_entry(app) -> tuple[int, dict]:
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).order_by(AuditLog.id.desc()).limit(1))
        return entry.id, {c: getattr(entry, c) for c in ("actor", "note", "changes", "row_hash")}


def entry_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(AuditLog.id)))


def test_the_trail_offers_no_write_to_anyone_not_even_the_administrator(app, client_for):
    admin = client_for("admin")
    listing = admin.get("/admin/audit_log/")
    assert listing.status_code == 200
    for link in ("/admin/audit_log/new/", "/admin/audit_log/edit/", "/admin/audit_log/delete/",
                 "/admin/audit_log/action/", "/admin/audit_log/import/"):
        assert link not in listing.text, link
    key, before = newest_entry(app)
    total = entry_count(app)
    base = "/admin/audit_log/"
    assert admin.get(f"{base}new/").status_code == 403
    assert admin.post(f"{base}new/", {"actor": "伪造", "action": "login", "note": "伪造的记录"}).status_code == 403
    assert admin.get(f"{base}edit/?id={key}").status_code == 403
    assert admin.post(f"{base}edit/?id={key}", {"actor": "改过的操作人", "note": "改过的说明"}).status_code == 403
    assert admin.post(f"{base}ajax/update/", {"list_form_pk": str(key), "note": "改过"}).status_code == 403
    assert admin.post(f"{base}delete/", {"id": str(key)}).status_code == 403
    assert admin.post(f"{base}action/", {"action": "delete", "rowid": [str(key)]}).status_code == 403
    assert admin.get(f"{base}import/").status_code == 404  # not importable: no such endpoint
    assert newest_entry(app) == (key, before) and entry_count(app) == total


def test_the_session_refuses_to_change_or_add_an_entry_by_hand(app):
    from models.kernel.declare import Refused

    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).order_by(AuditLog.id).limit(1))
        entry.note = "改过的说明"
        with pytest.raises(Refused, match="不能修改或删除"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditLog, entry.id))
        with pytest.raises(Refused, match="不能修改或删除"):
            db.session.flush()
        db.session.rollback()
        db.session.add(AuditLog(actor="伪造", action=AuditAction.LOGIN))
        with pytest.raises(Refused, match="只能由系统追加"):
            db.session.flush()
        db.session.rollback()


def test_the_database_itself_refuses_update_delete_and_truncate(app, transaction):
    key, _ = newest_entry(app)
    statements = ["UPDATE audit_log SET note = '改过' WHERE id = :k", "DELETE FROM audit_log WHERE id = :k"]
    if transaction.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(DBAPIError) as refused:
            with transaction.begin_nested():
                transaction.execute(text(statement), {"k": key})
        assert "操作日志只能追加" in str(refused.value), statement
    assert transaction.execute(text("SELECT note FROM audit_log WHERE id = :k"), {"k": key}).scalar() != "改过"


def test_an_account_that_has_acted_is_disabled_not_deleted(app, client_for, transaction):
    from models.accounts import User

    admin = client_for("admin")
    street = row_id(app, Street, name="示例街道")
    for name in ("acted", "idle"):
        response = admin.post("/admin/app_user/new/", {
            "username": name, "display_name": f"测试{name}", "role": "street_staff",
            "streets": str(street), "password": "Abcd12345x", "active": "y"})
        assert response.status_code == 302, flashes(response.text)
    Client(app).login("acted", "Abcd12345x")  # the trail now names this account
    acted, idle = row_id(app, User, username="acted"), row_id(app, User, username="idle")

    refused = admin.post("/admin/app_user/delete/", {"id": str(acted)}, follow_redirects=True)
    assert any("已有操作记录，不能删除" in f and "停用" in f for f in flashes(refused.text)), flashes(refused.text)
    # nor behind the screens: deleting it would rewrite its entries, and the key refuses it
    with pytest.raises(IntegrityError):
        with transaction.begin_nested():
            transaction.execute(text("DELETE FROM app_user WHERE id = :k"), {"k": acted})
    assert admin.post("/admin/app_user/delete/", {"id": str(idle)}).status_code == 302
    with app.app_context():
        assert db.session.get(User, acted) is not None and db.session.get(User, idle) is None
        assert db.session.scalar(db.select(db.func.count(AuditLog.id)).where(AuditLog.user_id == acted)) >= 1


# -- the auditor reads the trail of their street ----------------------------------------------

@pytest.fixture
def next_street(app):
    """A street beside the demo's, with a community, an estate and an account of its own."""
    from models.accounts import User
    from models.kernel.audit import acting_as
    from models.accounts import Role

    with app.app_context(), acting_as("测试准备"):
        street = Street(name="邻街道（审计）", district="示例区")
        community = Community(name="邻街社区", street=street)
        estate = Estate(name="邻街花园", community=community, estate_class="second")
        account = User(username="nextdoor", display_name="邻街 赵六", role=Role.STREET_STAFF, streets=[street])
        account.set_password("Abcd12345x")
        db.session.add_all([street, community, estate, account])
        db.session.commit()
        return estate.id


def test_the_auditor_reads_searches_filters_and_exports_the_trail_of_their_street(app, client_for, next_street):
    from .test_estates import filter_index

    street = client_for("street")  # bound to the demo street: its login is the auditor's to see
    estate = row_id(app, Estate, name="永乐花园")
    street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "永乐花园", "community": str(row_id(app, Community, name="江滨社区")),
        "estate_class": "first", "note": "审计可见的修改"})
    Client(app).login("nextdoor", "Abcd12345x")
    with app.app_context():
        mine = db.session.scalar(db.select(AuditLog.id).where(
            AuditLog.model == "estate", AuditLog.row_id == str(estate)).order_by(AuditLog.id.desc()))
        theirs = db.session.scalar(db.select(AuditLog.id).where(
            AuditLog.model == "estate", AuditLog.row_id == str(next_street)))
        nextdoor_login = db.session.scalar(db.select(AuditLog.id).where(
            AuditLog.action == AuditAction.LOGIN, AuditLog.actor.contains("nextdoor")))
        street_login = db.session.scalar(db.select(AuditLog.id).where(
            AuditLog.action == AuditAction.LOGIN, AuditLog.actor.contains("（street）")))

    auditor = client_for("auditor")
    listing = auditor.get("/admin/audit_log/?page_size=100")
    assert listing.status_code == 200
    for key, shown in ((mine, 200), (street_login, 200), (theirs, 404), (nextdoor_login, 404)):
        assert auditor.get(f"/admin/audit_log/details/?id={key}").status_code == shown, key
    admin = client_for("admin")
    assert list_count(auditor.get("/admin/audit_log/?search=永乐花园").text) >= 1
    for other in ("邻街花园", "nextdoor"):
        assert list_count(auditor.get(f"/admin/audit_log/?search={other}").text) == 0, other
        assert list_count(admin.get(f"/admin/audit_log/?search={other}").text) >= 1, other
    index = filter_index(listing.text, "类型", "等于")
    logins = auditor.get(f"/admin/audit_log/?page_size=100&flt0_{index}=login").text
    assert "（street）" in logins and "nextdoor" not in logins and "永乐花园" not in logins
    exported = auditor.get("/admin/audit_log/export/csv/").data.decode("utf-8-sig")
    assert "永乐花园" in exported and "（street）" in exported
    assert "邻街花园" not in exported and "nextdoor" not in exported
    # reading only: the auditor writes no more than the administrator
    assert auditor.get("/admin/audit_log/new/").status_code == 403
    assert auditor.post("/admin/audit_log/delete/", {"id": str(mine)}).status_code == 403


# -- the chain --------------------------------------------------------------------------------

def verify(app) -> Any:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_every_entry_is_chained_and_the_chain_reads_back_the_same_on_either_database(app, client_for, transaction):
    """Entries written three ways — a form save (the flush hook), a login (record), a raw
    append with awkward values — all verify when read back from the database."""
    from models.kernel.audit import GENESIS, append, chain_hash

    street = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    street.post(f"/admin/estate/edit/?id={estate}", {
        "name": "永乐花园", "community": str(row_id(app, Community, name="江滨社区")),
        "estate_class": "first", "note": "链上的修改"})
    awkward = {"at": datetime(2026, 1, 2, 3, 4, 5, 678901), "user_id": None, "actor": "测试 ☃\u2028 \"引号\"",
               "action": "action", "model": None, "row_id": None, "row_label": "名\\称",
               "changes": {"z": [0.1, 1e-7, 12345678901234567890, None, True], "a": ("元组", {"内": "层"}),
                           "数字": [1.0, -0.0], "空": ""},
               "note": "多行\n说明\t和 emoji 🙂"}
    append(transaction, [dict(awkward)])
    result = verify(app)
    assert result.exit_code == 0, result.output
    count = entry_count(app)
    assert result.output.startswith(f"OK {count} rows")
    with app.app_context():
        first = db.session.scalar(db.select(AuditLog).order_by(AuditLog.id).limit(1))
        last_two = db.session.scalars(db.select(AuditLog).order_by(AuditLog.id.desc()).limit(2)).all()
    assert first.prev_hash == GENESIS
    assert last_two[0].prev_hash == last_two[1].row_hash
    assert last_two[0].row_hash == chain_hash(last_two[1].row_hash, awkward)  # as written = as read back
    assert last_two[0].changes["a"] == ["元组", {"内": "层"}]


def tampered(transaction) -> None:
    """The triggers dropped inside the test's transaction (the rollback brings them back),
    as someone with the database's owner rights could."""
    from models.kernel.audit import drop_append_only

    drop_append_only(transaction)


def test_verify_names_the_entry_altered_behind_the_applications_back(app, transaction):
    ids = transaction.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
    key = ids[len(ids) // 2]
    tampered(transaction)
    transaction.execute(text("UPDATE audit_log SET actor = '别人', note = '改过的说明' WHERE id = :k"), {"k": key})
    result = verify(app)
    assert result.exit_code != 0
    assert f"编号 {key} 的记录被修改" in result.output
    assert f"此前 {ids.index(key)} 条完好" in result.output


def test_verify_names_where_an_entry_was_removed(app, transaction):
    ids = transaction.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
    before, key, after = ids[len(ids) // 3 - 1: len(ids) // 3 + 2]
    tampered(transaction)
    transaction.execute(text("DELETE FROM audit_log WHERE id = :k"), {"k": key})
    result = verify(app)
    assert result.exit_code != 0
    assert f"编号 {before} 与 {after} 之间的记录被删除" in result.output, result.output


def test_verify_finds_a_removed_first_entry_and_an_unreadable_one(app, transaction):
    ids = transaction.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
    tampered(transaction)
    transaction.execute(text("DELETE FROM audit_log WHERE id = :k"), {"k": ids[0]})
    result = verify(app)
    assert result.exit_code != 0 and f"编号 {ids[1]} 之前的记录被删除" in result.output
    if transaction.dialect.name == "sqlite":  # a field no longer of its type (SQLite stores anything)
        transaction.execute(text("UPDATE audit_log SET at = '不是时间' WHERE id = :k"), {"k": ids[1]})
        result = verify(app)
        assert result.exit_code != 0 and f"编号 {ids[1]} 的记录被修改" in result.output, result.output


@pytest.mark.live
def test_an_upgraded_database_has_its_existing_entries_chained(tmp_path):
    """Entries written before the trail was chained get their hashes from the migration,
    computed from what the database gives back, so verify passes after the upgrade."""
    import flask_migrate
    import sqlalchemy as sa

    from app import create_app
    from models.kernel.audit import acting_as, record

    from .conftest import _fresh_postgres

    server = os.environ.get("TEST_DATABASE_URL")
    url, drop = _fresh_postgres(server) if server else (f"sqlite:///{tmp_path / 'upgrade.db'}", None)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "upgrade-secret", "TESTING": True})
    trail = sa.table("audit_log", *[sa.column(n) for n in ("at", "actor", "action", "note", "row_label")],
                     sa.column("changes", sa.JSON), sa.column("user_id", sa.Integer))
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="e0e833ce077c")  # the trail before it was chained
            with db.engine.begin() as connection:
                connection.execute(trail.insert(), [
                    {"at": datetime(2026, 3, 1, 8, 0, 0), "actor": "系统", "action": "create",
                     "note": None, "row_label": "江滨社区", "changes": {"name": [None, "江滨社区"]}, "user_id": None},
                    {"at": datetime(2026, 3, 1, 8, 0, 1, 250000), "actor": "王 ☃", "action": "update",
                     "note": "说明\n第二行", "row_label": None, "changes": {"b": [1.5, 2], "a": [None, ["x", "y"]]},
                     "user_id": None},
                    {"at": datetime(2026, 3, 1, 8, 0, 2), "actor": "系统", "action": "login",
                     "note": "登录成功", "row_label": None, "changes": None, "user_id": None}])
            flask_migrate.upgrade()
        result = verify(app)
        assert result.exit_code == 0 and result.output.startswith("OK 3 rows"), result.output
        with app.app_context(), acting_as("升级后"):
            record(AuditAction.ACTION, None, note="升级后的第一条")
            db.session.commit()
        result = verify(app)
        assert result.exit_code == 0 and result.output.startswith("OK 4 rows"), result.output
        with app.app_context():
            with pytest.raises(DBAPIError):
                with db.engine.begin() as connection:
                    connection.execute(text("DELETE FROM audit_log"))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if drop:
            drop()


@pytest.mark.live
def test_two_writers_at_once_do_not_fork_the_chain(own_database, tmp_path):
    """The second writer waits for the first to commit before it reads the last hash —
    on PostgreSQL at the chain's advisory lock, on SQLite at its write lock — so its
    entry follows the first's instead of sharing its predecessor."""
    import threading

    from app import create_app
    from models.kernel.audit import acting_as, record

    app = create_app({"SQLALCHEMY_DATABASE_URI": own_database, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "fork-secret", "TESTING": True})
    first_wrote, first_may_commit = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with app.app_context(), acting_as("先写者"):
                record(AuditAction.ACTION, None, note="并发：先写")
                first_wrote.set()
                first_may_commit.wait(20)
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
            first_wrote.set()

    def second() -> None:
        try:  # a writing request: SQLite takes its write lock when the transaction begins
            with app.test_request_context(method="POST"), acting_as("后写者"):
                record(AuditAction.ACTION, None, note="并发：后写")
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    assert first_wrote.wait(20)
    two.start()
    two.join(1.0)
    waited = two.is_alive()
    first_may_commit.set()
    one.join(30)
    two.join(30)
    assert not failures, failures
    assert waited, "the second writer did not wait for the first"
    with app.app_context():
        a, b = db.session.scalars(db.select(AuditLog).where(AuditLog.note.like("并发：%"))
                                  .order_by(AuditLog.id.desc()).limit(2)).all()[::-1]
        assert (a.note, b.note) == ("并发：先写", "并发：后写")
        assert b.prev_hash == a.row_hash
        db.session.remove()
        db.engine.dispose()
    result = verify(app)
    assert result.exit_code == 0, result.output
