"""The access-control matrix: every role × every generated endpoint × a row inside and
a row outside the account's scope, with the expected answer derived from the
declaration (``Perms``, actions, workflow transitions, ``station``, ``importable``) and
the account's binding — enumerated from the engine, so a new model, action or
transition is covered without new test code.

Scope: ``community`` is bound to 江滨社区 and ``committee`` to 永乐花园; every other
account is bound to the demo street. So that the street-bound accounts have rows out
of their scope too, each test first moves 红山社区 (with its estates and everything
placed in them) to a second street.

A refused write is not just a status code: the row (or the table's count) is read back
and must be exactly as it was.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect

from models import db, declared_models
from models.accounts import Role
from models.kernel.scoping import scope_clause
from models.kernel.softdelete import soft_deletes
from seeds.demo import ACCOUNTS as DEMO_ACCOUNTS
from seeds.demo import STATION_OF

from .factories import ensure_rows
from .helpers import flashes
from .probes import ACCOUNTS, count, list_count, planted_client, snapshot

MODELS = declared_models()
ROLE = {username: role for username, _, role, _ in DEMO_ACCOUNTS}
SECOND_STREET = "邻街道（测试）"
MOVED_COMMUNITY = "红山社区"

# Every endpoint the engine gives a model view, by its Flask-Admin name; a new kind
# of endpoint fails test_every_endpoint_is_in_the_matrix until the matrix knows it.
MODEL_ENDPOINTS = {
    "index_view", "details_view", "history_view", "print_view", "file_view", "export",
    "create_view", "edit_view", "delete_view", "action_view", "ajax_lookup", "ajax_update",
    "transition_view", "import_view", "import_template_view", "import_job_view",
    "import_status_view", "import_commit_view",
}
# The pages across models: (url, who may open it). Any logged-in account, unless said.
PAGES = {
    "admin.index": "/admin/", "late.index": "/admin/late/", "standing.index": "/admin/standing/",
    "rollout.index": "/admin/rollout/", "report.index": "/admin/report/",
    "money_trail.index": "/admin/money_trail/", "recycle.index": "/admin/recycle/",
    "auth.change_password": "/account/password",
}
NOT_PROBED = {  # no data behind them, or tested where they belong
    "static", "admin.static", "root", "auth.login", "auth.logout", "auth.set_language",
    "report.pdf",            # the same data as report.index, rendered by WeasyPrint (slow)
    "recycle.restore_view",  # test_restoring_is_scoped_like_deleting below
}


def uploads_of(model: type) -> list[str]:
    from models.kernel.declare import attr_info

    return [a.key for a in sa_inspect(model).column_attrs if attr_info(a).get("upload")]


def view_of(app, model: type) -> Any:
    return next(v for v in app.extensions["admin"][0]._views if getattr(v, "model", None) is model)


def may_do(username: str, spec: Any, operation: str) -> bool:
    """What the declaration grants: the administrator everything but writing a sealed
    model (the audit trail); station staff only on their own station's records; everyone
    else what ``Perms`` lists for their role — and nothing on a row whose placing rows
    (those its scope path passes through: a fee refund's household) the account may not
    read."""
    role = ROLE[username]
    if role == Role.ADMIN:
        return operation == "read" or not spec.perms.sealed

    def granted(declaration: Any, op: str) -> bool:
        if declaration.station is not None and role == Role.STATION_STAFF \
                and STATION_OF[username] != declaration.station:
            return False
        return role in declaration.perms.roles(op)

    return granted(spec, operation) and all(granted(p, "read") for p in path_parents(spec))


def path_parents(spec: Any) -> list[Any]:
    model = next(m for m in MODELS if m.__admin__ is spec)
    paths = (spec.scope,) if isinstance(spec.scope, str) else () if callable(spec.scope) else spec.scope or ()
    found = []
    for path in paths:
        current = model
        for part in path.split(".")[:-1]:
            current = sa_inspect(current).relationships[part].mapper.class_
            found.append(current.__admin__)
    return found


def role_listed(username: str, roles: Any) -> bool:
    """An action's or step's roles, EDITORS (street staff) and EVERYONE read as the domain says."""
    from models.kernel.declare import role_set

    return ROLE[username] == Role.ADMIN or ROLE[username] in role_set(roles)


# -- the world: a second street, and the rows each account sees -----------------------------


@pytest.fixture(scope="module")
def clients(app):
    return {name: planted_client(app, name) for name in ACCOUNTS}


@pytest.fixture
def two_streets(app):
    """红山社区 moves to a second street: out of every street-bound account's scope."""
    from models.governance import Community, Street

    with app.app_context():
        second = Street(name=SECOND_STREET, district="示例区")
        db.session.add(second)
        db.session.flush()
        db.session.execute(db.update(Community.__table__).where(Community.name == MOVED_COMMUNITY)
                           .values(street_id=second.id))
        db.session.commit()


def user(username: str) -> Any:
    from models.accounts import User

    return db.session.scalar(db.select(User).where(User.username == username))


def ids(model: type, clause: Any) -> set[Any]:
    pk = sa_inspect(model).primary_key[0]
    stmt = db.select(pk)
    return set(db.session.scalars(stmt if clause is None else stmt.where(clause)))


def rows_for(model: type, username: str) -> dict[str, Any]:
    """For one account: a row it may change ("in"), one it may read but not change
    ("upward": an estate-bound account reading its community), one it may not see
    ("out"), and how many it sees."""
    account = user(username)
    from models.kernel.softdelete import not_deleted

    everything = ids(model, not_deleted(model))
    readable = ids(model, scope_clause(model, account))
    writable = ids(model, scope_clause(model, account, write=True))
    pick = lambda found: min(found) if found else None  # noqa: E731
    return {"in": pick(writable & readable),
            "upward": pick(readable - writable), "out": pick(everything - readable),
            "readable": readable}


class Matrix:
    """Collects every mismatch of one model × account, so a failure lists them all."""

    def __init__(self, app, model: type) -> None:
        self.app, self.model = app, model
        self.problems: list[str] = []

    def check(self, what: str, response: Any, expected: int | tuple[int, ...]) -> bool:
        wanted = expected if isinstance(expected, tuple) else (expected,)
        if response.status_code not in wanted:
            self.problems.append(f"{what}: got {response.status_code}, expected {wanted} "
                                 f"{flashes(response.get_data(as_text=True))[:2]}")
            return False
        return True

    def unchanged(self, what: str, key: Any, before: Any) -> None:
        with self.app.app_context():
            after = snapshot(self.model, key)
        if after != before:
            self.problems.append(f"{what}: a refused write changed the row")

    def read(self, key: Any) -> Any:
        with self.app.app_context():
            return snapshot(self.model, key)




@pytest.mark.parametrize("username", ACCOUNTS)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_access_matrix(app, clients, two_streets, model, username):
    spec = model.__admin__
    view = view_of(app, model)
    client = clients[username]
    base = f"/admin/{model.__tablename__}/"
    with app.app_context():
        ensure_rows(model)  # the demo's, or made from the declaration: every model has rows
        rows = rows_for(model, username)
        total = count(model)
        targets = {name: rows_for(loader.model, username)
                   for name, loader in (view._form_ajax_refs or {}).items()}
    if ROLE[username] == Role.ADMIN:  # the administrator reaches every row: nothing may go unchecked
        assert rows["in"] is not None, f"{model.__name__}: no row to check the screens of one row on"
    m = Matrix(app, model)
    read, create, edit, delete = (may_do(username, spec, op) for op in ("read", "create", "edit", "delete"))
    seen = {"in": 200, "upward": 200, "out": 404}         # read screens, by row kind
    changed = {"in": 200, "upward": 404, "out": 404}      # write screens see the write scope

    # list, its count and the export: exactly the rows of the read scope
    listing = client.get(f"{base}?page_size=20")
    if m.check("list", listing, 200 if read else 403) and read:
        if list_count(listing.text) != len(rows["readable"]):
            m.problems.append(f"list count {list_count(listing.text)} != {len(rows['readable'])} in scope")
    for kind in ("csv", "xlsx"):
        export = client.get(f"{base}export/{kind}/")
        body = export.data  # read it all: the file is streamed
        if m.check(f"export {kind}", export, (200 if spec.export else 404) if read else 403) \
                and read and kind == "csv" and spec.export:
            lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            if len(lines) - 1 != len(rows["readable"]):
                m.problems.append(f"export has {len(lines) - 1} rows, {len(rows['readable'])} in scope")

    # screens of one row
    for kind in ("in", "upward", "out"):
        key = rows[kind]
        if key is None:
            continue
        for screen in ("details", "history"):
            m.check(f"{screen} {kind}", client.get(f"{base}{screen}/?id={key}"), seen[kind] if read else 403)
        # an endpoint the model does not declare does not exist: 404 for everyone
        m.check(f"print {kind}", client.get(f"{base}print/?id={key}"),
                (seen[kind] if read else 403) if spec.print_template else 404)
        m.check(f"file {kind}", client.get(f"{base}file/?id={key}&column=nothing"),
                (404 if read else 403) if uploads_of(model) else 404)
        m.check(f"edit form {kind}", client.get(f"{base}edit/?id={key}"),
                changed[kind] if read and edit else 403)
        for t in getattr(spec.workflow, "transitions", ()):
            allowed = read and role_listed(username, t.roles)
            m.check(f"transition {t.name} form {kind}", client.get(f"{base}transition/{t.name}/?id={key}"),
                    changed[kind] if allowed else 403)

    # refused writes on one row: the answer, and the row exactly as it was
    for kind in ("in", "upward", "out"):
        key = rows[kind]
        if key is None:
            continue
        before = m.read(key)
        writes = []
        if not (read and edit) or kind != "in":
            writes.append(("edit", f"{base}edit/?id={key}", {"note": "越权修改", "name": "越权修改"},
                           changed[kind] if read and edit else 403))
            writes.append(("inline edit", f"{base}ajax/update/",
                           {"list_form_pk": str(key), "name": "越权修改"},
                           changed[kind] if read and edit else 403))
        if not (read and delete) or kind != "in":
            writes.append(("delete", f"{base}delete/", {"id": str(key)}, changed[kind] if read and delete else 403))
            writes.append(("bulk delete", f"{base}action/", {"action": "delete", "rowid": [str(key)]},
                           changed[kind] if read and delete else 403))
        for act in spec.actions:
            allowed = read and role_listed(username, act.roles)
            if not allowed or kind != "in":
                writes.append((f"action {act.name}", f"{base}action/", {"action": act.name, "rowid": [str(key)]},
                               changed[kind] if allowed else 403))
        for t in getattr(spec.workflow, "transitions", ()):
            allowed = read and role_listed(username, t.roles)
            if not allowed or kind != "in":
                writes.append((f"transition {t.name}", f"{base}transition/{t.name}/?id={key}", {},
                               changed[kind] if allowed else 403))
        for what, url, data, expected in writes:  # only refusals: allowed writes are others' tests
            m.check(f"{what} {kind}", client.post(url, data), expected)
            m.unchanged(f"{what} {kind}", key, before)

    # a bulk action mixing a row in scope with one outside it touches neither
    if rows["in"] is not None and rows["out"] is not None and read and delete:
        before = m.read(rows["in"]), m.read(rows["out"])
        m.check("bulk delete in+out", client.post(f"{base}action/", {
            "action": "delete", "rowid": [str(rows["in"]), str(rows["out"])]}), 404)
        if (m.read(rows["in"]), m.read(rows["out"])) != before:
            m.problems.append("bulk delete in+out changed a row")

    # creating, importing
    m.check("create form", client.get(f"{base}new/"), 200 if read and create else 403)
    if not (read and create):
        m.check("create", client.post(f"{base}new/", {"name": "越权新建", "note": "越权新建"}), 403)
    importer = read and create  # and only where the model is importable: else no such endpoint
    importing = (200 if importer else 403) if spec.importable else 404
    m.check("import page", client.get(f"{base}import/"), importing)
    m.check("import template", client.get(f"{base}import/template/"), importing)
    for step in ("", "status/"):
        m.check(f"import job {step or 'page'} of no one", client.get(f"{base}import/0123456789abcdef/{step}"),
                (404 if importer else 403) if spec.importable else 404)
    m.check("import upload", client.post(f"{base}import/", {}),
            (302 if importer else 403) if spec.importable else 404)
    m.check("import commit of no one", client.post(f"{base}import/0123456789abcdef/commit/", {}),
            (404 if importer else 403) if spec.importable else 404)
    with app.app_context():
        if count(model) != total:
            m.problems.append("a refused create or import added rows")

    # ajax look-ups of the form: only related rows in the account's read scope
    for name, loader in (view._form_ajax_refs or {}).items():
        response = client.get(f"{base}ajax/lookup/?name={name}&query=")
        if m.check(f"look-up {name}", response, 200 if read and (create or edit) else 403) \
                and read and (create or edit):
            found = {key for key, _ in response.get_json()}
            if not found <= targets[name]["readable"]:
                m.problems.append(f"look-up {name} offered rows out of scope: {found - targets[name]['readable']}")
            outside = targets[name]["out"]
            if outside is not None:
                with app.app_context():
                    field = loader.fields[0]
                    text = getattr(db.session.get(loader.model, outside),
                                   field if isinstance(field, str) else field.key)
                hit = client.get(f"{base}ajax/lookup/", query_string={"name": name, "query": str(text)[:20]})
                if outside in {key for key, _ in hit.get_json()}:
                    m.problems.append(f"look-up {name} found the out-of-scope row {outside}")

    # the allowed writes on a row in scope, last: they change it
    key = rows["in"]
    if key is not None and read and delete:
        response = client.post(f"{base}delete/", {"id": str(key)})
        if m.check("delete in", response, 302):
            refused = any("未完成" in f for f in flashes(client.get("/admin/").text))
            after = m.read(key)
            gone = after is None or (soft_deletes(model) and after["deleted_at"] is not None)
            if gone == refused:
                m.problems.append(f"delete in: {'refused but gone' if gone else 'said done but still there'}")

    assert not m.problems, f"{model.__name__} as {username}:\n" + "\n".join(m.problems)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_anonymous_is_sent_to_login_and_writes_nothing(app, client_for, model):
    anonymous = client_for(None)
    base = f"/admin/{model.__tablename__}/"
    with app.app_context():
        key = db.session.scalar(db.select(sa_inspect(model).primary_key[0]).limit(1)) or 1
        before, total = snapshot(model, key), count(model)
    spec = model.__admin__
    gets = ["", "new/", f"details/?id={key}", f"edit/?id={key}", f"history/?id={key}",
            "export/csv/", "ajax/lookup/?name=estate&query="]
    gets += [f"print/?id={key}"] if spec.print_template else []      # declared endpoints only
    gets += ["import/", "import/template/"] if spec.importable else []
    gets += [f"transition/{t.name}/?id={key}" for t in getattr(model.__admin__.workflow, "transitions", ())]
    for url in gets:
        response = anonymous.get(base + url)
        response.close()
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    posts = [("new/", {"name": "x"}), (f"edit/?id={key}", {"name": "x"}), ("delete/", {"id": str(key)}),
             ("action/", {"action": "delete", "rowid": [str(key)]})]
    for url, data in posts:
        # no session, so no CSRF token: refused before anything else
        assert anonymous.post(base + url, data, csrf=False).status_code in (302, 400), url
    with app.app_context():
        assert snapshot(model, key) == before and count(model) == total


@pytest.mark.parametrize("username", ACCOUNTS)
def test_pages_across_models(app, clients, two_streets, username):
    """Dashboard, late, standing, rollout, report, money trail, recycle bin: who may open
    them, and that no estate outside the account's scope is named on them."""
    from models.estates import Estate
    from models.funds import FundMovement

    client = clients[username]
    with app.app_context():
        rows = rows_for(Estate, username)
        names = dict(db.session.execute(db.select(Estate.id, Estate.name)).all())
    shown = {names[i] for i in rows["readable"]}
    hidden = {n for i, n in names.items() if i not in rows["readable"]
              and not any(n in s for s in shown)}  # a hidden name inside a shown one proves nothing
    deletable = any(soft_deletes(m) and may_do(username, m.__admin__, "delete") for m in MODELS)
    expected = {"money_trail.index": 200 if may_do(username, FundMovement.__admin__, "read") else 403,
                "recycle.index": 200 if deletable else 403}
    problems = []
    for endpoint, url in PAGES.items():
        response = client.get(url)
        wanted = expected.get(endpoint, 200)
        if response.status_code != wanted:
            problems.append(f"{url}: {response.status_code}, expected {wanted}")
            continue
        if wanted == 200 and endpoint != "auth.change_password":
            leaked = sorted(n for n in hidden if n in response.text)
            if leaked:
                problems.append(f"{url} names estates out of scope: {leaked[:5]}")
    assert not problems, "\n".join(problems)


def test_pages_send_the_anonymous_to_login(client_for):
    anonymous = client_for(None)
    for url in PAGES.values():
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


@pytest.mark.parametrize("username", ACCOUNTS)
def test_restoring_is_scoped_like_deleting(app, clients, username):
    """The recycle bin restores only what the account may delete, in its scope."""
    from models import now
    from models.estates import Estate

    with app.app_context():
        outside = db.session.scalar(db.select(Estate.id).where(Estate.name == "双龙小区"))
        inside = db.session.scalar(db.select(Estate.id).where(Estate.name == "永乐花园"))
        db.session.execute(db.update(Estate.__table__).where(Estate.id.in_([outside, inside]))
                           .values(deleted_at=now(), deleted_by="测试"))
        db.session.commit()
        readable = rows_for(Estate, username)  # deleted rows are in no one's list
        account = user(username)
        writable = ids(Estate, scope_clause(Estate, account, write=True, include_deleted=True))
    allowed = may_do(username, Estate.__admin__, "delete")
    for key in (outside, inside):
        response = clients[username].post("/admin/recycle/restore/", {"model": "estate", "id": str(key)})
        expected = (302 if key in writable else 404) if allowed else 403
        assert response.status_code == expected, (key, response.status_code)
        with app.app_context():
            restored = db.session.get(Estate, key).deleted_at is None
        assert restored == (expected == 302)
    assert not readable["readable"] & {outside, inside}


def test_every_endpoint_is_in_the_matrix(app):
    """Enumerated from the application: a new kind of endpoint, or a new page, must be
    added to the matrix before this passes."""
    tables = {m.__tablename__ for m in MODELS}
    unknown = []
    for rule in app.url_map.iter_rules():
        prefix, _, name = rule.endpoint.rpartition(".")
        if prefix in tables:
            if name not in MODEL_ENDPOINTS:
                unknown.append(rule.endpoint)
        elif rule.endpoint not in PAGES and rule.endpoint not in NOT_PROBED:
            unknown.append(rule.endpoint)
    assert not unknown, f"endpoints the access matrix does not probe: {unknown}"
    assert tables == {view.endpoint for view in app.extensions["admin"][0]._views
                      if getattr(view, "model", None) is not None}


# -- mass assignment: what the form does not offer cannot be posted into a row ------------------

# Posted alongside the real form: keys, versions, audit and recycle-bin stamps.
STAMP = "2001-02-03 04:05:06"


def extras_for(model: type, username: str, form: dict[str, Any], kinds: dict[str, str]) -> dict[str, str]:
    """A hostile value for every column the form does not offer: another row's id for
    keys (out of the account's scope when there is one), a far-off stamp, another state."""
    from sqlalchemy import Date, DateTime, Integer

    from models.kernel.declare import ChoiceType

    account = user(username)
    out: dict[str, str] = {}
    for attr in sa_inspect(model).column_attrs:
        column = attr.columns[0]
        if attr.key in form or attr.key in kinds or getattr(column, "table", None) is not model.__table__:
            continue
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table
            clause = None
            found = next((m for m in MODELS if m.__table__ is target), None)
            if found is not None:
                clause = scope_clause(found, account)
                far = ids(found, None if clause is None else ~clause) or ids(found, None)
            else:
                far = set(db.session.scalars(db.select(list(target.primary_key)[0])))
            if far:
                out[attr.key] = str(max(far))
        elif isinstance(column.type, ChoiceType):
            out[attr.key] = list(column.type.choices)[-1].value
        elif isinstance(column.type, (DateTime, Date)):
            out[attr.key] = STAMP if isinstance(column.type, DateTime) else STAMP[:10]
        elif isinstance(column.type, Integer):
            out[attr.key] = "987654"
        else:
            out[attr.key] = "篡改"
    return out


def editable_models(username: str) -> list[type]:
    return [m for m in MODELS if may_do(username, m.__admin__, "edit")]


@pytest.mark.parametrize("username", ["admin", "community"])
def test_mass_assignment_on_edit_changes_only_the_form(app, clients, username):
    from .probes import read_form

    client = clients[username]
    saved, problems = [], []
    for model in editable_models(username):
        base = f"/admin/{model.__tablename__}/"
        with app.app_context():
            key = rows_for(model, username)["in"]
        if key is None:
            continue
        page = client.get(f"{base}edit/?id={key}")
        assert page.status_code == 200, model
        form, kinds = read_form(page.text)
        with app.app_context():
            extras = extras_for(model, username, form, kinds)
            before = snapshot(model, key)
        response = client.post(f"{base}edit/?id={key}", {**form, **extras})
        assert response.status_code in (200, 302), (model, response.status_code)
        with app.app_context():
            after = snapshot(model, key)
        moved = {k for k in extras if k in before and before[k] != after[k]}
        moved -= {"updated_at"}  # a save stamps it
        if response.status_code == 302:
            saved.append(model.__name__)
            if "version" in moved and after["version"] == before["version"] + 1:
                moved.discard("version")  # a save moves the version on by one, never to what was posted
        if moved:
            problems.append(f"{model.__name__}: posted {sorted(moved)} changed the row")
    assert not problems, "\n".join(problems)
    # the unchanged form of a demo row saves: the extras were ignored, not the reason for a refusal
    assert len(saved) >= len(editable_models(username)) // 2, saved


def test_mass_assignment_on_create_sets_keys_stamps_and_state_itself(app, clients):
    from .probes import read_form

    client = clients["admin"]
    created, problems = [], []
    for model in [m for m in MODELS if may_do("admin", m.__admin__, "create")]:
        base = f"/admin/{model.__tablename__}/"
        with app.app_context():
            key = rows_for(model, "admin")["in"]
        if key is None:
            continue
        form, kinds = read_form(client.get(f"{base}edit/?id={key}").text)
        form = {k: (v + "乙" if kinds.get(k) in ("text", "textarea") and isinstance(v, str) and v else v)
                for k, v in form.items() if k != "row_version"}
        with app.app_context():
            extras = extras_for(model, "admin", form, kinds)
            top = db.session.scalar(db.select(db.func.max(sa_inspect(model).primary_key[0])))
        extras["id"] = "987654"
        response = client.post(f"{base}new/", {**form, **extras})
        assert response.status_code in (200, 302), (model, response.status_code)
        if response.status_code != 302:
            continue
        with app.app_context():
            new = db.session.scalar(db.select(db.func.max(sa_inspect(model).primary_key[0])))
            row = snapshot(model, new)
        created.append(model.__name__)
        if new == 987654 or new == top:
            problems.append(f"{model.__name__}: the posted id was used")
        for name in ("version", "created_at", "deleted_at", "deleted_by", "state"):
            if name in extras and row is not None and str(row[name])[:19] == extras[name][:19]:
                problems.append(f"{model.__name__}: posted {name} was stored")
        if row is not None and row.get("version") not in (None, 1):
            problems.append(f"{model.__name__}: a new row starts at version {row['version']}")
    assert not problems, "\n".join(problems)
    assert len(created) >= 10, created
