"""What a declaration promises, beyond its screens: every option is checked with a hint
(and ``flask check`` says so without stopping ``flask db``), clocks are fixed unless a
model opts out, warnings reach the home page by being declared, a model gets only the
endpoints it declares, and an action may be one set-based function."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
import pytest
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import create_app
from models import db, declared_models, now
from models.kernel.declare import Action, ModelAdmin, Perms, attention_flags, computed, field, relation
from models.kernel.paths import column_label
from models.kernel.workflow import Clock, Param, Transition, Workflow

from .conftest import app_config
from .helpers import flashes, row_id, transition


class Base(DeclarativeBase):
    metadata = MetaData()


class Rack(Base):
    __tablename__ = "rack"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(20), "名称")


def lift(name: str, **admin) -> type:
    """A throwaway elevator-like model, with a computed flag and a transition's method."""
    attrs = {
        "__tablename__": name.lower(),
        "id": mapped_column(primary_key=True),
        "code": field(String(20), "编号"),
        "rack_id": mapped_column(ForeignKey("rack.id")),
        "rack": relation("所在"),
        "overdue": computed("年检逾期", expression=lambda cls: cls.code.is_(None))(lambda self: False),
        "inspect": lambda self, checked_on=None: None,
        "__admin__": ModelAdmin(**{"label": "电梯", "category": "小区与自治", **admin}),
        "__annotations__": {"id": Mapped[int], "code": Mapped[str], "rack_id": Mapped[int], "rack": Mapped[Rack]},
    }
    return type(name, (Base,), attrs)


STEP = Transition("inspect", "年检", source=(), target=None, params=(Param("checked_on", "年检日期", "date"),))


@pytest.mark.parametrize("admin, expected", [
    ({"importable": True, "import_columns": ("cod",)}, "import_columns 'cod' is not a column or relation of {m} (did you mean 'code'?)"),
    ({"labels": {"rack.nam": "所在架"}}, "labels 'rack.nam' is not a column or relation of Rack (did you mean 'name'?)"),
    ({"lookup": ("cide",)}, "lookup 'cide' is not a column or relation of {m} (did you mean 'code'?)"),
    ({"list_columns": ("overdu",)}, "list_columns 'overdu' is not a column or relation of {m} (did you mean 'overdue'?)"),
    ({"filters": ("overdue", "rak")}, "filters 'rak' is not a column or relation of {m} (did you mean 'rack'?)"),
    ({"actions": (Action("archive", "归档", run="models.rollout:mark_pilot"),)},
     "actions 'archive' runs 'models.rollout:mark_pilot', which is not a function"),
    ({"workflow": Workflow(field=None, transitions=(
        Transition("inspect", "年检", source=(), target=None, params=(Param("checked_at", "年检日期", "date"),)),))},
     "param 'checked_at' is not an argument of {m}.inspect() (did you mean 'checked_on'?)"),
    ({"workflow": Workflow(field=None, transitions=(STEP,), clocks=(
        Clock("yearly", "年检期限", start="cod", due="code", rule=None),))},
     "clock 'yearly' names 'cod', not a column (did you mean 'code'?)"),
    ({"scope": "rak.id"}, "scope 'rak.id' is not a column or relation of {m} (did you mean 'rack'?)"),
    ({"view": "views.accounts.UserVeiw"}, "view 'views.accounts.UserVeiw' is not an importable class"),
    ({"perms": Perms(read=("leadr",))}, "perms.read names unknown role 'leadr' (did you mean 'leader'?)"),
    ({"perms": Perms(create=("street_staf",))}, "perms.create names unknown role 'street_staf' (did you mean 'street_staff'?)"),
    ({"actions": (Action("archive", "归档"),)}, "action 'archive' has no method {m}.archive()"),
    ({"category": "小区与自制"}, "category '小区与自制' is not one of"),
    ({"scope": "code"}, "scope 'code' does not point at a street, community or estate"),
    ({"search": ("rack_id",)}, "search 'rack_id' is not a text column"),
])
def test_a_typo_in_any_option_is_reported_with_a_hint(database_url, admin, expected):
    test_a_typo_in_any_option_is_reported_with_a_hint.n = getattr(
        test_a_typo_in_any_option_is_reported_with_a_hint, "n", 0) + 1
    name = f"Lift{test_a_typo_in_any_option_is_reported_with_a_hint.n}"
    from models.kernel.checks import DeclarationError, check_declarations

    model = lift(name, **admin)
    problems = check_declarations([model])
    said = [str(p) for p in problems]
    assert any(expected.format(m=name) in s for s in said), said
    assert all(p.id.startswith("E") and p.model.startswith(name) and p.option for p in problems)
    with pytest.raises(DeclarationError) as refused:  # and the application does not start
        create_app(app_config(database_url), extra_models=[model])
    assert "模型声明有误，应用未启动" in str(refused.value) and expected.format(m=name) in str(refused.value)


def test_every_mistake_is_listed_at_once(database_url):
    from models.kernel.checks import DeclarationError

    with pytest.raises(DeclarationError) as caught:
        create_app(app_config(database_url), extra_models=[lift("Lift99", filters=("nope",), sort="missing")])
    assert "'nope'" in str(caught.value) and "'missing'" in str(caught.value)


def test_the_application_declarations_are_clean():
    from models.kernel.checks import check_declarations

    assert check_declarations(declared_models()) == []


def test_flask_check_lists_the_problems_and_fails(app, database_url, monkeypatch):
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0 and "OK" in result.output

    broken = lift("LiftCli", filters=("cde",))
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "app", "check"])
    with click.Context(click.Command("check")):
        tolerant = create_app(app_config(database_url), extra_models=[broken])
    result = tolerant.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    assert "E102 LiftCli（电梯）: filters 'cde' is not a column or relation of LiftCli (did you mean 'code'?)" \
        in result.output
    assert "共 1 个问题" in result.output


def test_a_broken_declaration_stops_serving_but_not_flask_db(database_url, monkeypatch):
    from models.kernel.checks import DeclarationError

    broken = lift("LiftDb", sort="cod")
    with pytest.raises(DeclarationError) as refused:  # serving (gunicorn, python app.py, tests)
        create_app(app_config(database_url), extra_models=[broken])
    assert "flask db" in str(refused.value)
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "app", "db", "upgrade"])
    with click.Context(click.Command("db")):
        migrating = create_app(app_config(database_url), extra_models=[broken])
    assert [p.option for p in migrating.extensions["declaration_problems"]] == ["sort"]
    assert "migrate" in migrating.extensions  # Flask-Migrate is there to run the command
    assert not [v for v in migrating.extensions["admin"][0]._views if getattr(v, "model", None)]


def test_clocks_are_fixed_unless_a_model_opts_out():
    assert Clock("c", "期限", start="a", due="b", rule=None).fixed is True
    opted_out = [(m.__name__, c.name) for m in declared_models()
                 for c in getattr(m.__admin__.workflow, "clocks", ()) if not c.fixed]
    assert opted_out == []  # none of the seed's deadlines may follow a later edit


def test_a_committee_in_office_cannot_clear_its_overdue_re_election_by_editing(app, client_for):
    """The term end that set the re-election deadline is kept once the committee is filed:
    editing it is refused and the flag stays."""
    from models.selfgov import CommitteeState, OwnersCommittee

    street = client_for("street")
    with app.app_context():
        c = db.session.scalar(db.select(OwnersCommittee).where(OwnersCommittee.state == CommitteeState.IN_OFFICE))
        from models.kernel.workflow import _set_by_transition

        c.term_start = now().date() - timedelta(days=365)
        c.term_end = now().date() + timedelta(days=30)      # as the filing step would have set them
        _set_by_transition(c).update({"term_start", "term_end"})
        db.session.commit()
        key, flagged = c.id, c.re_election_due
    assert flagged
    page = street.get(f"/admin/owners_committee/edit/?id={key}").text
    assert 'name="term_end"' in page
    form = __import__("tests.probes", fromlist=["read_form"]).read_form(page)[0]
    form["term_end"] = (now().date() + timedelta(days=400)).isoformat()  # within five years: only the clock objects
    response = street.post(f"/admin/owners_committee/edit/?id={key}", form)
    assert "「任期届满」：业主委员会已进入「履职中」，不能再修改" in " ".join(flashes(response.text))
    with app.app_context():
        assert db.session.get(OwnersCommittee, key).re_election_due


def test_every_declared_warning_is_counted_on_the_home_page(client_for):
    page = client_for("admin").get("/admin/").text
    expected = [f"{m.__admin__.label}：{column_label(m, flag)}" for m in declared_models() for flag in attention_flags(m)]
    assert len(expected) >= 8
    missing = [label for label in expected if label not in page]
    assert not missing, missing
    # case clocks are on the late page, not counted twice
    assert "应急报修单：到场超时" not in page


def test_a_model_has_only_the_endpoints_it_declares(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for model in declared_models():
        spec, base = model.__admin__, model.__tablename__
        has = lambda name: f"{base}.{name}" in endpoints  # noqa: E731
        assert has("transition_view") == (spec.workflow is not None), model
        assert has("import_view") == spec.importable, model
        assert has("print_view") == bool(spec.print_template), model
        uploads = any(getattr(c, "info", {}).get("upload") for c in model.__table__.columns)
        assert has("file_view") == uploads, model
        assert has("index_view") and has("details_view") and has("history_view")


def test_an_action_may_be_one_function_for_all_selected_rows(app, client_for, monkeypatch):
    import models.rollout as rollout
    from models.estates import Estate
    from models.rollout import Pilot

    calls = []
    real = rollout.mark_pilots
    monkeypatch.setattr(rollout, "mark_pilots", lambda estates: (calls.append(len(estates)), real(estates)))
    with app.app_context():
        chosen = [str(i) for i in db.session.scalars(db.select(Estate.id).where(
            ~Estate.id.in_(db.select(Pilot.estate_id))).order_by(Estate.id).limit(3))]
    response = client_for("street").post("/admin/estate/action/", {"action": "mark_pilot", "rowid": chosen},
                                         follow_redirects=True)
    assert "标记为试点：已处理 3 条记录" in flashes(response.text)
    assert calls == [3]  # one call, every row
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Pilot).where(
            Pilot.estate_id.in_([int(i) for i in chosen]))) == 3


def test_a_step_may_be_a_function_of_another_module(app, client_for):
    """生成后续任务 is declared on the meeting and made by the rollout module."""
    from models.governance import LeadershipMeeting
    from models.rollout import Phase, Task

    spec = LeadershipMeeting.__admin__.workflow.transition("create_tasks")
    assert spec.run == "models.rollout:create_meeting_tasks" and not hasattr(LeadershipMeeting, "create_tasks")
    coordinator = client_for("coordinator")
    meeting = row_id(app, LeadershipMeeting)
    with app.app_context():
        phase = db.session.scalar(db.select(Phase.id).order_by(Phase.id))
    r = transition(coordinator, "leadership_meeting", "create_tasks", meeting, phase=str(phase),
                   tasks="一、函数生成的任务\n二、另一项", due_on=now().date() + timedelta(days=20))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        made = db.session.scalars(db.select(Task.text).where(Task.meeting_id == meeting, Task.phase_id == phase)).all()
    assert "一、函数生成的任务" in made and "二、另一项" in made
