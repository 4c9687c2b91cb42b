"""Every state-changing request needs the CSRF token the pages carry."""

from __future__ import annotations

import pytest

from models import db
from models.estates import Estate

from .helpers import row_id


@pytest.fixture
def street(client_for):
    return client_for("street")


def count_estates(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Estate))


def test_create_without_token_is_refused(app, street):
    before = count_estates(app)
    community = row_id(app, Estate, name="永乐花园")  # any id; the token check comes first
    response = street.post("/admin/estate/new/", {"name": "伪造小区", "community": str(community),
                                                  "estate_class": "first"}, csrf=False)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert count_estates(app) == before


def test_edit_without_token_is_refused(app, street):
    estate = row_id(app, Estate, name="永乐花园")
    response = street.post(f"/admin/estate/edit/?id={estate}", {"name": "被改名"}, csrf=False)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Estate, estate).name == "永乐花园"


def test_delete_without_token_is_refused(app, street):
    estate = row_id(app, Estate, name="丽景湾")
    assert street.post("/admin/estate/delete/", {"id": str(estate)}, csrf=False).status_code == 400
    with app.app_context():
        assert db.session.get(Estate, estate) is not None


def test_bulk_action_without_token_is_refused(app, street):
    estate = row_id(app, Estate, name="丽景湾")
    response = street.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)},
                           csrf=False)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Estate, estate).is_pilot is False


def test_a_forged_token_is_refused_too(app, street):
    estate = row_id(app, Estate, name="丽景湾")
    response = street.post("/admin/estate/delete/", {"id": str(estate), "csrf_token": "forged"})
    assert response.status_code == 400


def test_logout_needs_the_token(street):
    assert street.post("/logout", csrf=False).status_code == 400
    assert street.get("/admin/").status_code == 200  # still logged in
