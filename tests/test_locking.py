"""No lost updates: an edit made from a stale reading is refused and the newer data
survives — between two people's forms, and between the check and the write."""

from __future__ import annotations


from sqlalchemy import event, select, text

from models import db
from models.estates import Estate

from .helpers import flashes, row_id
from .probes import read_form


def edit_form(client, url: str) -> dict[str, str]:
    """The fields an edit page would post back, as the browser holds them."""
    return read_form(client.get(url).text)[0]


def test_the_edit_form_carries_the_version_it_shows(app, client_for):
    c = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    fields = edit_form(c, f"/admin/estate/edit/?id={estate}")
    with app.app_context():
        version = db.session.scalar(select(Estate.version).where(Estate.id == estate))
    assert fields["row_version"] == str(version)


def test_a_stale_form_is_refused_and_the_newer_edit_survives(app, client_for):
    first, second = client_for("street"), client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    url = f"/admin/estate/edit/?id={estate}"
    mine, theirs = edit_form(first, url), edit_form(second, url)   # both open the form

    theirs["note"] = "第二个人先保存的备注"
    assert second.post(url, theirs).status_code == 302

    mine["note"] = "第一个人后保存的备注"
    page = first.post(url, mine)
    assert page.status_code == 200  # the form again, with the user's input and the reason
    message = " ".join(flashes(page.text))
    assert "已被" in message and "修改" in message and "街道物业办 王敏（street）" in message
    with app.app_context():
        assert db.session.scalar(select(Estate.note).where(Estate.id == estate)) == "第二个人先保存的备注"

    # reopened, the first person edits the newer data and saves
    fresh = edit_form(first, url)
    fresh["note"] = "第一个人重新打开后保存"
    assert first.post(url, fresh).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Estate.note).where(Estate.id == estate)) == "第一个人重新打开后保存"


def test_a_save_racing_another_between_check_and_write_is_refused(app, client_for):
    """Someone commits after our form passed its version check but before our UPDATE:
    the UPDATE says which version it read, finds none, and nothing is overwritten."""
    c = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    url = f"/admin/estate/edit/?id={estate}"
    fields = edit_form(c, url)
    fields["note"] = "会被拒绝的修改"
    fired = []

    def someone_else_saves(session, flush_context, instances):
        if not fired:
            fired.append(True)
            session.connection().execute(text(
                "UPDATE estate SET version = version + 1, note = '别人抢先保存' WHERE id = :id"), {"id": estate})

    event.listen(db.session, "before_flush", someone_else_saves)
    try:
        page = c.post(url, fields)
    finally:
        event.remove(db.session, "before_flush", someone_else_saves)
    assert fired and page.status_code == 200
    assert any("已被" in m for m in flashes(page.text))
    with app.app_context():
        note = db.session.scalar(select(Estate.note).where(Estate.id == estate))
    assert note != "会被拒绝的修改"


def test_a_posted_version_cannot_move_the_row(app, client_for):
    c = client_for("street")
    estate = row_id(app, Estate, name="永乐花园")
    url = f"/admin/estate/edit/?id={estate}"
    fields = edit_form(c, url)
    with app.app_context():
        before = db.session.scalar(select(Estate.version).where(Estate.id == estate))
    fields["note"] = "正常修改"
    fields["version"] = "999"  # mass assignment: not a form field, ignored
    assert c.post(url, fields).status_code == 302
    with app.app_context():
        after = db.session.scalar(select(Estate.version).where(Estate.id == estate))
    assert after == before + 1

    fields = edit_form(c, url)
    fields["row_version"] = "999"  # a made-up version is a stale one
    fields["note"] = "伪造版本"
    assert c.post(url, fields).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Estate.note).where(Estate.id == estate)) == "正常修改"


def test_editing_only_an_inline_child_still_moves_the_parent_on(app, client_for):
    """A committee's members are edited in its form: a stale form that changes only a
    member is refused like any other."""
    from models.selfgov import OwnersCommittee

    first, second = client_for("street"), client_for("street")
    with app.app_context():
        committee = db.session.scalar(select(OwnersCommittee.id).join(OwnersCommittee.members).limit(1))
    url = f"/admin/owners_committee/edit/?id={committee}"
    mine, theirs = edit_form(first, url), edit_form(second, url)
    phone = next(k for k in theirs if k.startswith("members-") and k.endswith("-phone"))
    theirs[phone] = "13900000001"
    assert second.post(url, theirs).status_code == 302
    mine[phone] = "13900000002"
    assert first.post(url, mine).status_code == 200
    with app.app_context():
        from models.selfgov import CommitteeMember

        phones = set(db.session.scalars(select(CommitteeMember.phone).where(
            CommitteeMember.committee_id == committee)))
    assert "13900000001" in phones and "13900000002" not in phones
