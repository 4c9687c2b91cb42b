"""What keeps list pages fast: the number of statements does not grow with the rows shown."""

from __future__ import annotations

import pytest

from models import db, declared_models
from views.engine.build import resolve_view_class

from .helpers import count_statements

MODELS = declared_models()


def statements_for(app, client, url: str) -> list[str]:
    client.get(url)  # warm: the user loader, Flask-Admin's caches
    with count_statements(app) as statements:
        assert client.get(url).status_code == 200
    # the test harness's own savepoints are not the page's work
    return [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_list_page_statements_are_few_and_fixed(app, client_for, model):
    """A page of up to 100 rows costs the same handful of statements as a page of one:
    the user and their scope, the count, the page's ids, the rows (relations joined in),
    and one per to-many relation shown. N+1 would show as one statement per row."""
    c = client_for("admin")
    with app.app_context():
        rows = db.session.scalar(db.select(db.func.count()).select_from(model))
    statements = statements_for(app, c, f"/admin/{model.__tablename__}/?page_size=100")
    relations = model.__mapper__.relationships
    to_many = sum(1 for name in model.__admin__.list_columns
                  if name in relations and relations[name].uselist)
    # each relation filter lists the related rows once, for its dropdown
    filter_lists = sum(1 for name in model.__admin__.filters if name in relations)
    # a list with totals under it (subsidies) sums them in one more statement
    summaries = getattr(resolve_view_class(model.__admin__), "list_summary_statements", 0)
    assert len(statements) <= 7 + to_many + filter_lists + summaries, (rows, statements)


def _fill_the_street(app) -> None:
    """More than 100 rows of each model in the street user's scope, so that a page of
    100 really holds 100 rows (the demo has 5 communities and 56 estates)."""
    from datetime import date
    from decimal import Decimal

    from models.estates import Estate, EstateClass
    from models.fees import Subsidy, SubsidyRecipient
    from models.governance import Community, Duty, OrgKind, OrgUnit, Street

    with app.app_context():
        street = db.session.scalar(db.select(Street).where(Street.name == "示例街道"))
        home = db.session.scalar(db.select(Community).where(Community.name == "江滨社区"))
        for i in range(101):
            db.session.add(Community(name=f"压力社区{i:03d}", street=street))
            estate = Estate(name=f"压力小区{i:03d}", community=home, estate_class=EstateClass.THIRD)
            db.session.add(estate)
            unit = OrgUnit(name=f"压力科室{i:03d}", street=street, kind=OrgKind.DEPARTMENT)
            unit.duties.append(Duty(seq=1, text=f"压力职责{i:03d}"))
            db.session.add(unit)
            db.session.add(Subsidy(recipient=SubsidyRecipient.ESTATE, estate=estate, purpose=f"压力补贴{i:03d}",
                                   amount=Decimal("100.00"), allocated_on=date(2020, 1, 1), approver="财政所"))
        db.session.commit()


@pytest.mark.parametrize("url, first_column", [("/admin/estate/", "name"), ("/admin/community/", "name"),
                                               ("/admin/org_unit/", "name"), ("/admin/duty/", "text"),
                                               ("/admin/subsidy/", "allocated_on")])
def test_list_statements_do_not_grow_with_page_size(app, client_for, url, first_column):
    _fill_the_street(app)
    c = client_for("street")
    small = statements_for(app, c, f"{url}?page_size=20")
    large = statements_for(app, c, f"{url}?page_size=100")
    # the pages really hold 20 and 100 rows, or the comparison would prove nothing
    cell = f'<td class="col-{first_column}">'
    assert c.get(f"{url}?page_size=20").text.count(cell) == 20
    assert c.get(f"{url}?page_size=100").text.count(cell) == 100
    assert len(small) == len(large), (small, large)


def test_estate_list_joins_its_community_in_the_same_query(app, client_for):
    c = client_for("street")
    with count_statements(app) as statements:
        c.get("/admin/estate/?page_size=100")
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and "FROM estate" in s and "count(" not in s.lower()]
    assert any("JOIN community" in s for s in selects)
