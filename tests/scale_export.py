"""Measure a large export in a process of its own (run by tests/test_export_scale.py).

    python -m tests.scale_export setup   <database url> <instance dir> <rows>
    python -m tests.scale_export measure <database url> <instance dir> <csv|xlsx>

``measure`` prints JSON: the process's peak memory, how many rows had been read when
the first bytes left, the rows written, the time taken.
"""

from __future__ import annotations

import json
import sys
import time


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, so it
    starts afresh at exec; ru_maxrss would carry over the forked parent's (pytest's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def setup(url: str, instance: str, rows: int) -> None:
    import flask_migrate
    from sqlalchemy import insert

    from app import create_app
    from models import db, now
    from models.accounts import User
    from models.accounts import Role
    from models.estates import Estate
    from models.governance import Community, Street

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "x"})
    with app.app_context():
        flask_migrate.upgrade()
        street = Street(name="规模街道")
        community = Community(name="规模社区", street=street)
        admin = User(username="admin", display_name="管理员", role=Role.ADMIN)
        admin.set_password("demo1234")
        db.session.add_all([street, community, admin])
        db.session.commit()
        stamp = now()
        batch = []
        for i in range(rows):
            batch.append({"name": f"规模小区{i:06d}", "community_id": community.id, "estate_class": "first",
                          "households": i % 900, "address": "=HYPERLINK(1)" if i == 0 else f"测试路{i}号",
                          "is_demo": True, "created_at": stamp, "updated_at": stamp})
            if len(batch) == 5000:
                db.session.execute(insert(Estate.__table__), batch)
                batch = []
        if batch:
            db.session.execute(insert(Estate.__table__), batch)
        db.session.commit()


def measure(url: str, instance: str, kind: str) -> None:
    from app import create_app
    from views.engine import exports

    from models import db
    from models.accounts import User
    from views.auth import plant_login

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "x"})
    client = app.test_client()
    # Logged in through the session, not the login page: checking a password with scrypt
    # (memory-hard by design) would put a one-off 32 MB spike into the figure measured.
    with app.app_context():
        username = db.session.get(User, 1).username
    plant_login(app, client, username)
    read = {"rows": 0}
    original = exports.export_rows

    def counting(view):  # rows are read lazily: a row counted here has come from the database
        headers, rows = original(view)

        def counted():
            for row in rows:
                read["rows"] += 1
                yield row
        return headers, counted()

    exports.export_rows = counting
    client.get("/admin/estate/?page_size=20")  # warm up: the process as it is when serving
    baseline = peak_mb()
    started = time.perf_counter()
    response = client.get(f"/admin/estate/export/{kind}/", buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    at_first = {"rows": read["rows"], "seconds": time.perf_counter() - started}
    size = len(first)
    for chunk in chunks:
        size += len(chunk)
    response.close()
    print(json.dumps({
        "peak_mb": round(peak_mb(), 1), "baseline_mb": round(baseline, 1),
        "rows_read_at_first_bytes": at_first["rows"], "first_bytes_seconds": round(at_first["seconds"], 3),
        "rows_read": read["rows"], "bytes": size, "seconds": round(time.perf_counter() - started, 2),
        "starts_with_bom": first.startswith("\ufeff".encode()),
    }))


if __name__ == "__main__":
    step, url, instance = sys.argv[1:4]
    if step == "setup":
        setup(url, instance, int(sys.argv[4]))
    else:
        measure(url, instance, sys.argv[4])
