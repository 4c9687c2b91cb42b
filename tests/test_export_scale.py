"""An export of 100,000 rows streams with flat memory (measured in its own process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import _fresh_postgres

ROWS = 100_000
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def big_database(tmp_path_factory):
    instance = tmp_path_factory.mktemp("scale-instance")
    server = os.environ.get("TEST_DATABASE_URL")
    drop = None
    if server:
        url, drop = _fresh_postgres(server)
    else:
        url = f"sqlite:///{instance / 'scale.db'}"
    subprocess.run([sys.executable, "-m", "tests.scale_export", "setup", url, str(instance), str(ROWS)],
                   cwd=ROOT, check=True, capture_output=True)
    yield url, str(instance)
    if drop:
        drop()


def run(big_database, kind: str) -> dict:
    url, instance = big_database
    out = subprocess.run([sys.executable, "-m", "tests.scale_export", "measure", url, instance, kind],
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_csv_export_of_100000_rows_streams_in_flat_memory(big_database):
    figures = run(big_database, "csv")
    print("CSV export of 100,000 rows:", figures)
    assert figures["rows_read"] == ROWS
    assert figures["starts_with_bom"]
    assert figures["rows_read_at_first_bytes"] < ROWS   # the first bytes left long before the last row
    assert figures["peak_mb"] < 150


def test_xlsx_export_of_100000_rows_keeps_memory_flat(big_database):
    figures = run(big_database, "xlsx")
    print("XLSX export of 100,000 rows:", figures)
    assert figures["rows_read"] == ROWS
    assert figures["peak_mb"] < 150
