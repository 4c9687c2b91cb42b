"""Every declared model has rows for the generated tests — the demo's or examples made
from its declaration (tests/factories.py) — so the access matrix, every-screen, XSS and
form-fuzz tests check real rows of every model and never skip one."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect as sa_inspect

from models import db, declared_models
from models.accounts import User
from models.estates import Estate
from models.kernel.scoping import anchor_level, in_scope, scope_paths

from .factories import ensure_rows, example


@pytest.mark.parametrize("model", declared_models(), ids=lambda m: m.__name__)
def test_every_model_has_rows_to_test(ctx, model):
    assert ensure_rows(model), model


# Models the demo fills but a declaration alone can make a row of: the factory itself is
# tested on them, at every kind of scope path (own id, a key to an estate, a community or
# a street, a path through a parent, through an account's bindings).
BUILDABLE = ("Household", "RepairTicket", "Complaint", "PropertyCompany", "Community", "OrgUnit",
             "StaffMember", "LowIncomeStatus", "FundMovement", "Phase", "User")


@pytest.mark.parametrize("name", BUILDABLE)
def test_an_example_lies_where_it_was_asked_for(ctx, name):
    model = next(m for m in declared_models() if m.__name__ == name)
    estate = db.session.scalar(db.select(Estate).where(Estate.name == "永乐花园"))
    row = example(model, estate)
    assert sa_inspect(row).identity is not None
    street = db.session.scalar(db.select(User).where(User.username == "street"))  # the demo street
    assert in_scope(row, street, write=False), f"{name} made for 永乐花园 is not in its street"
    paths = scope_paths(model)
    if paths and anchor_level(model, paths[0]) == "estate":  # and in the estate itself
        committee = db.session.scalar(db.select(User).where(User.username == "committee"))  # 永乐花园
        assert in_scope(row, committee, write=False), f"{name} made for 永乐花园 is not in it"
