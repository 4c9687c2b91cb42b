"""Station staff see and change only their station's cases, and only in the estates of
their scope: the one scoping hook, for a station account bound to one community."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import db, now
from models.accounts import User
from models.repairs import RepairTicket, TicketState
from models.accounts import Role
from models.estates import Estate
from models.governance import Community, OrgKind, OrgUnit

from .helpers import Client, row_id, transition


@pytest.fixture
def hongshan_station(app):
    """A repair-station account bound to 红山社区 only."""
    with app.app_context():
        user = User(username="hs_station", display_name="红山维修员", role=Role.STATION_STAFF)
        user.set_password("demo1234")
        user.unit = db.session.scalar(db.select(OrgUnit).where(OrgUnit.kind == OrgKind.REPAIR_STATION))
        user.communities = [db.session.scalar(db.select(Community).where(Community.name == "红山社区"))]
        db.session.add(user)
        db.session.commit()
    return Client(app).login("hs_station")


def ticket_in(app, client, estate: str, caller: str) -> int:
    r = client.post("/admin/repair_ticket/new/", {
        "estate": str(row_id(app, Estate, name=estate)),
        "call_at": (now() - timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S"),
        "caller": caller, "phone": "13800000000", "category": "water", "description": "漏水"})
    assert r.status_code == 302
    return row_id(app, RepairTicket, caller=caller)


def test_station_staff_work_only_in_their_scope(app, client_for, hongshan_station):
    street_station = client_for("station")                    # the whole street
    inside = ticket_in(app, street_station, "双龙小区", "红山来电")     # 红山社区
    outside = ticket_in(app, street_station, "永乐花园", "江滨来电")    # 江滨社区

    listing = hongshan_station.get("/admin/repair_ticket/?page_size=100").text
    assert "红山来电" in listing and "江滨来电" not in listing
    assert hongshan_station.get(f"/admin/repair_ticket/details/?id={outside}").status_code == 404
    assert transition(hongshan_station, "repair_ticket", "accept", outside).status_code == 404
    assert "江滨来电" not in hongshan_station.get("/admin/repair_ticket/export/csv/").data.decode("utf-8-sig")
    # a new ticket's form does not offer an estate outside the scope
    assert hongshan_station.get(
        "/admin/repair_ticket/ajax/lookup/?name=estate&query=永乐").get_json() == []
    assert transition(hongshan_station, "repair_ticket", "accept", inside).status_code == 302
    with app.app_context():
        assert db.session.get(RepairTicket, outside).state == TicketState.RECEIVED
        assert db.session.get(RepairTicket, inside).state == TicketState.ACCEPTED
