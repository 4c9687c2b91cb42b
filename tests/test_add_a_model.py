"""docs/add-a-model.md, done as it says, in a copy of the code: its module dropped into
models/, ``flask check``, ``flask db migrate`` and ``upgrade`` — and then, with no other
code, the elevator has its screens, scope, import, clock and action, and the generated
tests (access matrix, every screen, XSS, form fuzz, factories) check its rows.

The copy is a new user's checkout: if the walkthrough ever needs one more step, this
test fails until the document says it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "add-a-model.md"
IGNORED = shutil.ignore_patterns(".git", ".venv", "instance", "test-artifacts", "out", "__pycache__",
                                 "*.egg-info", ".hypothesis", "*.db")

# Checks of what the walkthrough promises, run inside the copy (a test of the copy's own).
WALKTHROUGH_TESTS = '''
from datetime import timedelta
import io
import re

from openpyxl import load_workbook

from models import db, now
from models.elevators import Elevator
from models.estates import Estate

from .helpers import flashes, problems, row_id, upload, xlsx


def estate_id(app, name):
    return row_id(app, Estate, name=name)


def test_screens_scope_and_action(app, client_for):
    street = client_for("street")
    listing = street.get("/admin/elevator/")
    assert listing.status_code == 200 and "电梯编号" in listing.text and "年检逾期" in listing.text
    assert street.get("/admin/elevator/new/").status_code == 200
    r = street.post("/admin/elevator/new/", {"estate": str(estate_id(app, "永乐花园")), "code": "DT-永乐-01",
                                             "inspected_on": (now().date() - timedelta(days=30)).isoformat(),
                                             "in_service": "y"})
    assert r.status_code == 302, flashes(r.text)
    r = street.post("/admin/elevator/new/", {"estate": str(estate_id(app, "双龙小区")), "code": "DT-双龙-01",
                                             "in_service": "y"})
    assert r.status_code == 302, flashes(r.text)
    key = row_id(app, Elevator, code="DT-永乐-01")
    with app.app_context():
        e = db.session.get(Elevator, key)
        assert e.next_inspection_on == e.inspected_on + timedelta(days=365)  # computed, never typed
    for screen in ("details", "edit", "history"):
        assert street.get(f"/admin/elevator/{screen}/?id={key}").status_code == 200
    # 江滨社区's staff see 永乐花园's lift, not 双龙小区's (红山社区)
    community = client_for("community").get("/admin/elevator/").text
    assert "DT-永乐-01" in community and "DT-双龙-01" not in community
    assert client_for("leader").get("/admin/elevator/new/").status_code == 403
    r = street.post("/admin/elevator/action/", {"action": "retire", "rowid": [str(key)]}, follow_redirects=True)
    assert "停用：已处理 1 条记录" in flashes(r.text)
    with app.app_context():
        assert db.session.get(Elevator, key).in_service is False
    export = street.get("/admin/elevator/export/csv/")
    assert export.status_code == 200 and "电梯编号" in export.data.decode("utf-8-sig")


def test_the_yearly_clock_flags_a_late_inspection_everywhere(app, client_for):
    street = client_for("street")
    r = street.post("/admin/elevator/new/", {"estate": str(estate_id(app, "永乐花园")), "code": "DT-逾期-01",
                                             "inspected_on": (now().date() - timedelta(days=400)).isoformat(),
                                             "in_service": "y"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert db.session.scalar(db.select(Elevator).where(Elevator.code == "DT-逾期-01")).overdue
    assert "电梯：年检逾期" in street.get("/admin/").text
    late = street.get("/admin/late/").text
    assert "DT-逾期-01" in late and "年检期限" in late


def test_import_template_preview_and_commit(app, client_for):
    street = client_for("street")
    template = street.get("/admin/elevator/import/template/")
    assert template.status_code == 200
    headers = [c.value.lstrip("*") for c in load_workbook(io.BytesIO(template.data)).active[1]]
    assert "电梯编号" in headers and "小区" in headers
    row = {"小区": "永乐花园", "电梯编号": "DT-导入-01", "最近年检日期": "2026-02-30"}
    bad = upload(street, "elevator", xlsx([headers, [row.get(h) for h in headers]]), "电梯.xlsx")
    assert any("最近年检日期" in p and "不是有效日期" in p for p in problems(bad.text)), problems(bad.text)
    row["最近年检日期"] = "2026-02-28"
    page = upload(street, "elevator", xlsx([headers, [row.get(h) for h in headers]]), "电梯.xlsx")
    assert "import-problems" not in page.text and "确认导入" in page.text
    job = re.search(r"/admin/elevator/import/([0-9a-f]{32})/", page.text).group(1)
    street.post(f"/admin/elevator/import/{job}/commit/", {})
    assert row_id(app, Elevator, code="DT-导入-01") is not None
'''


def declared_module() -> str:
    text = DOC.read_text()
    section = text.split("## 1.", 1)[1].split("## 2.", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result


@pytest.mark.own_database
def test_a_registry_added_by_one_module_and_its_migration(tmp_path):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=IGNORED)
    (copy / "models" / "elevators.py").write_text(declared_module())
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {**os.environ, "INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'walk.db'}",
           "SECRET_KEY": "walkthrough", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "app"]

    checked = run([*flask, "check"], copy, env)
    assert checked.returncode == 0 and "声明没有问题" in checked.stdout, checked.stdout + checked.stderr

    assert run([*flask, "db", "upgrade"], copy, env).returncode == 0
    before = set((copy / "migrations" / "versions").glob("*.py"))
    migrated = run([*flask, "db", "migrate", "-m", "elevators"], copy, env)
    assert migrated.returncode == 0, migrated.stderr
    [new] = set((copy / "migrations" / "versions").glob("*.py")) - before
    script = new.read_text()
    tables = set(re.findall(r"op\.(?:create_table|batch_alter_table|drop_table)\(\s*'(\w+)'", script))
    assert tables == {"elevator"}, f"the migration touches more than the new table: {tables}\n{script}"
    assert "op.drop_" not in script.split("def downgrade")[0]
    assert run([*flask, "db", "upgrade"], copy, env).returncode == 0

    (copy / "tests" / "test_elevator_walkthrough.py").write_text(WALKTHROUGH_TESTS)
    test_env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "INSTANCE_PATH")}
    if os.environ.get("TEST_DATABASE_URL"):
        test_env["TEST_DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    tested = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                  "tests/test_elevator_walkthrough.py", "tests/test_every_screen.py", "tests/test_access_matrix.py",
                  "tests/test_xss.py", "tests/test_fuzz_forms.py", "tests/test_factories.py",
                  "-k", "elevator or Elevator"], copy, test_env, timeout=900)
    summary = next((line for line in reversed(tested.stdout.splitlines()) if " passed" in line), tested.stdout[-500:])
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "skipped" not in summary and "failed" not in summary, summary
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    # walkthrough 3 + every screen 1 + matrix 10 accounts and anonymous + XSS 1 + fuzz edit/create + factories 1
    assert passed >= 3 + 1 + 11 + 1 + 2 + 1, summary
