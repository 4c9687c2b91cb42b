"""The load script (bench/load.py) works, and its checks would catch what they promise.

* A short run — a few users for a few seconds under gunicorn on PostgreSQL — ends with
  no 5xx, no lost update, edits and transitions accepted and every check passed.
* The checks themselves, held against a database where nothing happened: an edit the
  users say was accepted but the audit trail lacks is reported as a lost update; a refused
  edit whose value is in the row, a transition missing from the trail, a login not logged,
  a tally that disagrees with the records and a broken hash chain are each reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.load import Tally, check

ROOT = Path(__file__).resolve().parent.parent


def postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.mark.own_database
def test_a_short_load_run_has_no_5xx_and_no_lost_update(tmp_path):
    if not postgres_answers():
        if os.environ.get("CI") == "true":
            pytest.fail("CI: PostgreSQL must answer at 127.0.0.1:5432 for the load script")
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    out = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--users", "8", "--duration", "6", "--workers", "2",
         "--threads", "4", "--tickets", "4", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["checks_failed"] == []
    assert result["status"]["5xx"] == 0 and result["status"]["4xx"] == 0
    assert result["requests"] > 50 and result["logins"] >= 8
    # it did collide and write, not only read
    assert result["edits_accepted"] > 0 and result["transitions"]["accepted"] > 0
    assert "丢失更新 = 0" in done.stdout and "5xx = 0" in done.stdout


@pytest.mark.own_database
def test_the_checks_report_what_the_server_did_not_keep(own_database):
    engine = create_engine(own_database)
    with engine.begin() as conn:
        ticket, address = conn.execute(text("SELECT id, address FROM repair_ticket ORDER BY id LIMIT 1")).one()
        # the transitions the trail holds for it, so that one claimed beyond them is only missing
        notes = conn.execute(text("SELECT note FROM audit_log WHERE model = 'repair_ticket' AND row_id = :r "
                                  "AND action = 'transition'"), {"r": str(ticket)}).scalars().all()
    engine.dispose()
    from models.repairs import RepairTicket

    names = {t.label: t.name for t in RepairTicket.__admin__.workflow.transitions}
    recorded = [(ticket, names[note.split("：")[0]], "accepted") for note in notes]
    assert recorded and ("refer", "accepted") not in [c[1:] for c in recorded]

    assert check(own_database, Tally()) == []  # nothing claimed, nothing amiss

    lost = Tally(edits_accepted=[("repair_ticket", ticket, "address", "压测-u1-1")])
    assert any(p.startswith("丢失更新") and "压测-u1-1" in p for p in check(own_database, lost))

    traced = Tally(edits_stale=[("repair_ticket", ticket, "address", address)])
    assert any("留下了痕迹" in p for p in check(own_database, traced))

    assert check(own_database, Tally(transitions=recorded)) == []
    missing = [p for p in check(own_database, Tally(transitions=recorded + [(ticket, "refer", "accepted")]))]
    assert len(missing) == 1 and missing[0].startswith(f"报修单 {ticket}：服务器接受的流转") and "'refer': 1" in missing[0]

    unlogged = Tally()
    unlogged.logins["leader"] += 1000
    assert any("账号 leader" in p for p in check(own_database, unlogged))

    engine = create_engine(own_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE case_tally SET tickets = tickets + 1 WHERE estate_id = "
                              "(SELECT min(estate_id) FROM case_tally)"))
        assert any(p.startswith("月度汇总不一致") for p in check(own_database, Tally()))
    finally:
        with engine.begin() as conn:  # leave the shared database as it was
            conn.execute(text("UPDATE case_tally SET tickets = tickets - 1 WHERE estate_id = "
                              "(SELECT min(estate_id) FROM case_tally)"))
        engine.dispose()


@pytest.mark.own_database
def test_the_checks_report_a_broken_audit_chain(own_database):
    from models.kernel.audit import drop_append_only, ensure_append_only

    engine = create_engine(own_database)
    with engine.connect() as conn:
        key, note = conn.execute(text("SELECT id, note FROM audit_log ORDER BY id LIMIT 1 OFFSET 3")).one()
    try:
        with engine.begin() as conn:  # as someone with the owner's rights, behind the application
            drop_append_only(conn)
            conn.execute(text("UPDATE audit_log SET note = '改过' WHERE id = :k"), {"k": key})
        assert any(p.startswith("操作日志哈希链断开") and f"编号 {key} " in p for p in check(own_database, Tally()))
    finally:
        with engine.begin() as conn:  # leave the shared database as it was
            drop_append_only(conn)
            conn.execute(text("UPDATE audit_log SET note = :n WHERE id = :k"), {"n": note, "k": key})
            ensure_append_only(conn)
        engine.dispose()
    assert check(own_database, Tally()) == []
