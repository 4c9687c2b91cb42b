"""Service-center work is the service center's: patrols, clearing records and residents'
archives are kept by its staff (and street staff); the other stations' staff get 403."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import db, now
from models.estates import Estate, ManagementMode
from models.service_center import Clearing, Household, Patrol

from .helpers import flashes

YESTERDAY = now().date() - timedelta(days=1)


def center_estate(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Estate.id).where(Estate.management_mode == ManagementMode.OLD_CENTER)
                                 .order_by(Estate.id))


def created_by_street(app, client_for, endpoint, estate_id) -> int:
    model, column, form = FORMS[endpoint]
    r = client_for("street").post(f"/admin/{endpoint}/new/", form(estate_id, "街道建立"))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        return db.session.scalar(db.select(model.id).where(getattr(model, column) == "街道建立"))


FORMS = {
    "patrol": (Patrol, "patroller", lambda e, who: {
        "estate": str(e), "patrolled_at": f"{YESTERDAY} 20:00:00", "patroller": who, "route": "主干道"}),
    "clearing": (Clearing, "done_by", lambda e, who: {
        "estate": str(e), "kind": "drain", "done_on": str(YESTERDAY), "done_by": who, "location": "3幢"}),
    "household": (Household, "head", lambda e, who: {
        "estate": str(e), "building": "9", "unit": "2", "room": "902", "head": who}),
}


@pytest.mark.parametrize("endpoint", list(FORMS))
@pytest.mark.parametrize("account", ["station", "mediator"])
def test_other_stations_cannot_see_or_change_service_center_records(app, client_for, endpoint, account):
    model, column, form = FORMS[endpoint]
    estate = center_estate(app)
    existing = created_by_street(app, client_for, endpoint, estate)
    other = client_for(account)  # the repair station's, the mediation station's staff
    assert other.get(f"/admin/{endpoint}/").status_code == 403
    assert other.get(f"/admin/{endpoint}/new/").status_code == 403
    assert other.post(f"/admin/{endpoint}/new/", form(estate, "越权新建")).status_code == 403
    assert other.get(f"/admin/{endpoint}/edit/?id={existing}").status_code == 403
    assert other.post(f"/admin/{endpoint}/edit/?id={existing}", form(estate, "越权修改")).status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(model).where(
            getattr(model, column).in_(["越权新建", "越权修改"]))) == 0
        assert getattr(db.session.get(model, existing), column) == "街道建立"


@pytest.mark.parametrize("endpoint", list(FORMS))
@pytest.mark.parametrize("account", ["center", "street"])
def test_the_service_center_and_street_staff_keep_them(app, client_for, endpoint, account):
    model, column, form = FORMS[endpoint]
    estate = center_estate(app)
    client = client_for(account)
    r = client.post(f"/admin/{endpoint}/new/", form(estate, f"{account}新建"))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        created = db.session.scalar(db.select(model.id).where(getattr(model, column) == f"{account}新建"))
    r = client.post(f"/admin/{endpoint}/edit/?id={created}", form(estate, f"{account}修改"))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert getattr(db.session.get(model, created), column) == f"{account}修改"


def test_community_staff_keep_the_households_of_their_own_community(app, client_for):
    with app.app_context():
        own = db.session.scalar(db.select(Estate.id).where(Estate.name == "永乐花园"))     # 江滨社区
        other = db.session.scalar(db.select(Estate.id).where(Estate.name == "双龙小区"))   # 红山社区
    community = client_for("community")
    _, _, form = FORMS["household"]
    r = community.post("/admin/household/new/", form(own, "社区新建"))
    assert r.status_code == 302, flashes(r.text)
    r = community.post("/admin/household/new/", form(other, "别社区"))
    assert r.status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(Household.id).where(Household.head == "别社区")) is None
