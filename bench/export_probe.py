"""One export, measured in a process of its own (run by bench/run.py and the export test).

    python -m bench.export_probe product <database url> <instance dir> <list url> <user>
    python -m bench.export_probe plain   <database url> <instance dir> <list url>
    python -m bench.export_probe raw     <database url> <instance dir> <table>

Prints one line of JSON: time to the first byte, total time, bytes, and the process's
peak memory (VmHWM: it starts afresh at exec, so a parent's size does not leak in)
next to its size before the export began.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def drain(chunks, started: float) -> dict:
    first = None
    size = 0
    for chunk in chunks:
        if first is None and chunk:
            first = time.perf_counter() - started
        size += len(chunk)
    return {"first_byte_s": round(first or 0.0, 3), "total_s": round(time.perf_counter() - started, 2),
            "bytes": size}


def product(url: str, instance: str, list_url: str, username: str) -> dict:
    from app import create_app
    from views.auth import plant_login

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    client = app.test_client()
    plant_login(app, client, username)  # as a login would, without scrypt in the figures
    client.get(list_url)  # the process as it is when serving
    baseline = peak_mb()
    started = time.perf_counter()
    response = client.get(list_url.rstrip("/") + "/export/csv/", buffered=False)
    figures = drain(response.response, started)
    response.close()
    return {**figures, "status": response.status_code, "baseline_mb": round(baseline, 1)}


def plain(url: str, instance: str, list_url: str) -> dict:
    from bench.plain import create_plain_app

    app = create_plain_app(url)
    client = app.test_client()
    client.get(list_url)
    baseline = peak_mb()
    started = time.perf_counter()
    response = client.get(list_url.rstrip("/") + "/export/csv/", buffered=False)
    figures = drain(response.response, started)
    response.close()
    return {**figures, "status": response.status_code, "baseline_mb": round(baseline, 1)}


def raw(url: str, instance: str, table: str) -> dict:
    """The floor: a server-side cursor written straight to CSV."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    baseline = peak_mb()
    started = time.perf_counter()

    def chunks():
        # On the statement: set on the connection, psycopg 3 still fetched every row first.
        with engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")
                                  .execution_options(stream_results=True))
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(result.keys())
            while partition := result.fetchmany(2000):
                writer.writerows(partition)
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()

    figures = drain(chunks(), started)
    return {**figures, "status": 200, "baseline_mb": round(baseline, 1)}


if __name__ == "__main__":
    kind, url, instance, target = sys.argv[1:5]
    if kind == "product":
        result = product(url, instance, target, sys.argv[5])
    elif kind == "plain":
        result = plain(url, instance, target)
    else:
        result = raw(url, instance, target)
    result["peak_mb"] = round(peak_mb(), 1)
    print(json.dumps(result))
