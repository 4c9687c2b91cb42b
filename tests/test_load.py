"""The load script (bench/load.py) works, and its checks would catch what they promise.

* A short run — a few users for a few seconds under gunicorn on PostgreSQL — ends with
  no 5xx, no lost update, edits and transitions accepted and every check passed.
* The checks themselves, held against a database where nothing happened: an edit the
  users say was accepted but the audit trail lacks is reported as a lost update; a refused
  edit whose value is in the row, a transition missing from the trail, a login not logged
  and a tally that disagrees with the records are each reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.load import Shared, Tally, check

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
        estate = conn.execute(text("SELECT estate_id FROM repair_ticket WHERE id = :t"), {"t": ticket}).scalar()
    engine.dispose()
    shared = Shared([estate], [ticket], [], [])

    assert check(own_database, Tally(), shared) == []  # nothing claimed, nothing amiss

    lost = Tally(edits_accepted=[("repair_ticket", ticket, "address", "压测-u1-1")])
    assert any(p.startswith("丢失更新") and "压测-u1-1" in p for p in check(own_database, lost, shared))

    traced = Tally(edits_stale=[("repair_ticket", ticket, "address", address)])
    assert any("留下了痕迹" in p for p in check(own_database, traced, shared))

    moved = Tally(transitions=[(ticket, "accept", "accepted")])
    assert any(f"报修单 {ticket}" in p and "accept" in p for p in check(own_database, moved, shared))

    unlogged = Tally()
    unlogged.logins["leader"] += 1000
    assert any("账号 leader" in p for p in check(own_database, unlogged, shared))

    engine = create_engine(own_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE case_tally SET tickets = tickets + 1 WHERE estate_id = "
                              "(SELECT min(estate_id) FROM case_tally)"))
        assert any(p.startswith("月度汇总不一致") for p in check(own_database, Tally(), shared))
    finally:
        with engine.begin() as conn:  # leave the shared database as it was
            conn.execute(text("UPDATE case_tally SET tickets = tickets - 1 WHERE estate_id = "
                              "(SELECT min(estate_id) FROM case_tally)"))
        engine.dispose()
