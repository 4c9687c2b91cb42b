"""A model declared in a test gets every screen from its declaration alone."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import Boolean, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import create_app
from models import db
from models.kernel.declare import ChoiceType, Choices, ModelAdmin, Perms, field

from .conftest import app_config
from .helpers import Client, field_errors


class ThrowawayBase(DeclarativeBase):
    # Its own metadata: the throwaway table never joins the application's schema.
    metadata = MetaData()


class Colour(Choices):
    RED = "red", "红色"
    BLUE = "blue", "蓝色"


class Gadget(ThrowawayBase):
    __tablename__ = "gadget"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(50), "名称")
    colour: Mapped[Colour] = field(ChoiceType(Colour), "颜色")
    weight: Mapped[int | None] = field(Integer, "重量", min=0, max=100)
    fragile: Mapped[bool] = field(Boolean, "易碎", default=False)

    __admin__ = ModelAdmin(
        label="小器件", category="系统管理",
        search=("name",), filters=("colour", "fragile"), sort="name",
        perms=Perms.registry(),
    )

    def __str__(self) -> str:
        return self.name


@pytest.fixture
def gadget_app(database_url, transaction):
    Gadget.__table__.create(transaction)
    return create_app(app_config(database_url), extra_models=[Gadget])


def test_declared_model_gets_every_screen_without_a_view_class(gadget_app):
    c = Client(gadget_app).login("street")

    # create
    page = c.get("/admin/gadget/new/")
    assert page.status_code == 200 and "名称" in page.text and "红色" in page.text
    r = c.post("/admin/gadget/new/", {"name": "扳手", "colour": "red", "weight": "5"})
    assert r.status_code == 302
    assert c.post("/admin/gadget/new/", {"name": "锤子", "colour": "blue", "weight": "9",
                                          "fragile": "y"}).status_code == 302

    # list, with Chinese labels and choice labels
    listing = c.get("/admin/gadget/")
    assert listing.status_code == 200
    assert "扳手" in listing.text and "锤子" in listing.text and "蓝色" in listing.text
    assert "小器件" in listing.text

    with gadget_app.app_context():
        wrench = db.session.scalar(db.select(Gadget).where(Gadget.name == "扳手"))
        wrench_id = wrench.id

    # search and filters (colour = blue; fragile = yes)
    found = c.get("/admin/gadget/?search=扳").text
    assert "扳手" in found and "锤子" not in found
    blue = c.get("/admin/gadget/?flt0_0=blue").text
    assert "锤子" in blue and "扳手" not in blue
    filter_index = _filter_index(listing.text, "易碎")
    fragile = c.get(f"/admin/gadget/?flt0_{filter_index}=1").text
    assert "锤子" in fragile and "扳手" not in fragile

    # details and edit
    assert "扳手" in c.get(f"/admin/gadget/details/?id={wrench_id}").text
    assert c.get(f"/admin/gadget/edit/?id={wrench_id}").status_code == 200
    r = c.post(f"/admin/gadget/edit/?id={wrench_id}", {"name": "活动扳手", "colour": "red", "weight": "6"})
    assert r.status_code == 302

    # the declared range is enforced with a Chinese message, nothing written
    r = c.post(f"/admin/gadget/edit/?id={wrench_id}", {"name": "活动扳手", "colour": "red", "weight": "500"})
    assert r.status_code == 200 and field_errors(r.text, "weight") == ["应在 0 到 100 之间"]
    with gadget_app.app_context():
        assert db.session.get(Gadget, wrench_id).weight == 6

    # export
    exported = c.get("/admin/gadget/export/csv/")
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == ["名称", "颜色", "重量", "易碎"]
    assert ["活动扳手", "红色", "6", "否"] in rows

    # delete
    r = c.post("/admin/gadget/delete/", {"id": str(wrench_id)})
    assert r.status_code == 302
    with gadget_app.app_context():
        assert db.session.get(Gadget, wrench_id) is None


def _filter_index(page: str, label: str) -> int:
    """Flask-Admin numbers filters; find the one whose group carries ``label``."""
    import json

    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', page, re.S).group(1))
    return groups[label][0]["index"]
