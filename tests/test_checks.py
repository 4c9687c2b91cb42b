"""A misspelt declaration stops start-up with a message naming the model and the mistake."""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import create_app
from models.kernel.declare import Action, ModelAdmin, Perms, field, relation
from models.kernel.workflow import Clock, Workflow
from models.kernel.checks import DeclarationError

from .conftest import app_config


class Base(DeclarativeBase):
    metadata = MetaData()


class Shelf(Base):
    __tablename__ = "shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(20), "名称")


def make(name: str, **admin) -> type:
    """A fresh throwaway model with the given declaration."""
    attrs = {
        "__tablename__": name.lower(),
        "id": mapped_column(primary_key=True),
        "title": field(String(20), "标题"),
        "shelf_id": mapped_column(ForeignKey("shelf.id")),
        "shelf": relation("书架"),
        "__admin__": ModelAdmin(**{"label": "图书", "category": "系统管理", **admin}),
        "__annotations__": {"id": Mapped[int], "title": Mapped[str], "shelf_id": Mapped[int],
                            "shelf": Mapped[Shelf]},
    }
    return type(name, (Base,), attrs)


@pytest.mark.parametrize("admin, expected", [
    ({"filters": ("titel",)}, "Book1（图书）: filters 'titel' is not a column or relation of Book1 (did you mean 'title'?)"),
    ({"list_columns": ("shelf.nam",)}, "'shelf.nam' is not a column or relation of Shelf (did you mean 'name'?)"),
    ({"perms": Perms(create=("street_staf",))}, "perms.create names unknown role 'street_staf' (did you mean 'street_staff'?)"),
    ({"actions": (Action("archive", "归档"),)}, "action 'archive' has no method Book4.archive()"),
    ({"category": "系统管里"}, "category '系统管里' is not one of"),
    ({"scope": "title"}, "scope 'title' does not point at a street, community or estate"),
    ({"search": ("shelf_id",)}, "search 'shelf_id' is not a text column"),
    ({"workflow": Workflow(transitions=(), field=None, clocks=(
        Clock("due", "期限", start="title", due="title", rule=None, inputs=("titel",)),))},
     "clock 'due' names 'titel', not a column (did you mean 'title'?)"),
])
def test_misspelt_declaration_stops_start_up(database_url, admin, expected):
    test_misspelt_declaration_stops_start_up.n = getattr(test_misspelt_declaration_stops_start_up, "n", 0) + 1
    model = make(f"Book{test_misspelt_declaration_stops_start_up.n}", **admin)
    with pytest.raises(DeclarationError) as caught:
        create_app(app_config(database_url), extra_models=[model])
    assert expected in str(caught.value)
    assert "模型声明有误，应用未启动" in str(caught.value)


def test_every_mistake_is_listed_at_once(database_url):
    model = make("Book99", filters=("nope",), sort="missing")
    with pytest.raises(DeclarationError) as caught:
        create_app(app_config(database_url), extra_models=[model])
    assert "'nope'" in str(caught.value) and "'missing'" in str(caught.value)


def test_the_application_declarations_are_clean():
    from models import declared_models
    from models.kernel.checks import check_declarations

    assert check_declarations(declared_models()) == []
