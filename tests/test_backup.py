"""``flask backup create`` / ``flask backup restore``: a round trip gives back every row of
every table and every uploaded file; a damaged backup or one from another schema
revision changes nothing.

Runs on SQLite and, with ``TEST_DATABASE_URL``, on PostgreSQL (pg_dump / pg_restore / psql),
against a database of its own with the demo data (not the per-test transaction).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from models import db
from models.estates import Estate

from .helpers import Client, flashes, row_id

pytestmark = pytest.mark.live  # the database of its own is backed up and restored for real

# files in every folder that holds uploads, and one outside them that is not backed up
UPLOADS = {"photos/1.jpg": b"\xff\xd8\xff photo one", "photos/2.png": b"\x89PNG\r\n\x1a\n two",
           "proofs/低保证明.pdf": b"%PDF-1.4 proof", "evidence/a.pdf": b"%PDF-1.4 evidence",
           "imports/job.upload": b"name,community\n", "notes.txt": b"not an upload: left alone"}


@pytest.fixture(scope="module")
def world(own_database: str, tmp_path_factory) -> Iterator[Any]:
    if os.environ.get("TEST_DATABASE_URL") and not all(map(shutil.which, ("pg_dump", "pg_restore", "psql"))):
        message = ("PostgreSQL client tools are not installed: `make test` installs Debian's "
                   "postgresql-client when run as root; otherwise `apt-get install postgresql-client`")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the backup tests. {message}")
        pytest.skip(message)
    instance = tmp_path_factory.mktemp("backup-instance")
    for name, data in UPLOADS.items():
        (instance / name).parent.mkdir(parents=True, exist_ok=True)
        (instance / name).write_bytes(data)
    app = create_app({"SQLALCHEMY_DATABASE_URI": own_database, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "backup-secret", "TESTING": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def every_table(app: Any) -> dict[str, list[str]]:
    """Every row, every column, of every table in the database (sorted, as text)."""
    with app.app_context():
        names = sorted(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            tables = {name: sorted(repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{name}"')))
                      for name in names}
        db.session.remove()
    return tables


def files(app: Any) -> dict[str, bytes]:
    root = Path(app.instance_path)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.parts[len(root.parts)] != "backups"}


def cli(app: Any, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=["backup", *args], input=input, catch_exceptions=False)


def backup(app: Any, tmp_path: Path) -> Path:
    out = tmp_path / "wuye.tar.gz"
    result = cli(app, "create", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "备份完成" in result.output
    return out


def change_things(app: Any) -> None:
    """Edit through a screen, delete rows, replace and add files: what a restore undoes."""
    street = Client(app).login("street")
    estate = row_id(app, Estate, name="永乐花园")
    with app.app_context():
        community = str(db.session.get(Estate, estate).community_id)
    r = street.post(f"/admin/estate/edit/?id={estate}",
                    {"name": "永乐花园（改）", "community": community, "estate_class": "first", "households": "7"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        db.session.execute(text("DELETE FROM mediation_session"))  # the trail itself refuses deletes
        db.session.commit()
    root = Path(app.instance_path)
    (root / "photos/1.jpg").unlink()
    (root / "proofs/低保证明.pdf").write_bytes(b"%PDF-1.4 overwritten")
    (root / "photos/3.webp").write_bytes(b"RIFF....WEBP new")


def test_a_round_trip_gives_back_every_row_and_every_file(world, tmp_path):
    before_rows, before_files = every_table(world), files(world)
    assert len(before_rows) > 40 and before_rows["estate"] and before_rows["mediation_session"]
    assert set(UPLOADS) <= set(before_files)
    archive = backup(world, tmp_path)
    assert archive.stat().st_mode & 0o077 == 0  # personal data: the owner's alone

    change_things(world)
    changed = every_table(world)
    assert changed["estate"] != before_rows["estate"] and not changed["mediation_session"]
    assert files(world) != before_files

    refused = cli(world, "restore", str(archive), input="n\n")
    assert refused.exit_code != 0 and "确定恢复吗" in refused.output
    assert every_table(world) == changed  # said no: nothing happened

    result = cli(world, "restore", str(archive), input="y\n")
    assert result.exit_code == 0, result.output
    assert "恢复完成" in result.output

    after = every_table(world)
    assert set(after) == set(before_rows)
    for name in before_rows:
        if not name.startswith("audit_log"):
            assert after[name] == before_rows[name], f"table {name} differs after the restore"
    # the restore leaves one trace of itself in the audit trail (and so in its search index)
    added = [row for row in after["audit_log"] if row not in before_rows["audit_log"]]
    assert len(added) == 1 and "从备份恢复：wuye.tar.gz" in added[0]
    assert sorted(set(after["audit_log"]) - set(added)) == before_rows["audit_log"]
    assert files(world) == before_files
    # the restored trail holds, the restore chained onto it, and it is append-only again
    verified = world.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and verified.output.startswith("OK "), verified.output
    with world.app_context():
        with pytest.raises(DBAPIError):
            with db.engine.begin() as connection:
                connection.execute(text("DELETE FROM audit_log"))

    # the application carries on: it reads the restored rows and writes new ones (ids and
    # sequences restored too)
    street = Client(world).login("street")
    listed = street.get("/admin/estate/?search=永乐花园").text
    assert "永乐花园" in listed and "永乐花园（改）" not in listed
    r = street.post("/admin/community/new/", {"name": "恢复后新建社区", "street": str(_street_id(world))})
    assert r.status_code == 302, flashes(r.text)


def _street_id(app: Any) -> int:
    from models.governance import Street

    return row_id(app, Street, name="示例街道")


def test_a_damaged_backup_changes_nothing(world, tmp_path):
    archive = backup(world, tmp_path)
    damaged = tmp_path / "damaged.tar.gz"
    work = tmp_path / "unpacked"
    with tarfile.open(archive) as whole:
        whole.extractall(work, filter="data")
    dump = next(work.glob("database.*"))
    dump.write_bytes(dump.read_bytes()[: int(dump.stat().st_size * 0.8)])  # cut off at 80 %
    with tarfile.open(damaged, "w:gz") as repacked:
        for item in sorted(work.iterdir()):
            repacked.add(item, item.name)

    (Path(world.instance_path) / "photos/after-backup.jpg").write_bytes(b"\xff\xd8\xff later")
    rows, present = every_table(world), files(world)
    result = app_restore(world, damaged)
    assert result.exit_code != 0
    assert "数据未改变" in result.output
    if os.environ.get("TEST_DATABASE_URL"):  # the dump was read until the cut: rolled back
        assert "恢复数据库失败，已全部回滚" in result.output, result.output
    else:  # SQLite checks the copy before it touches the database
        assert "备份中的数据库已损坏" in result.output, result.output
    assert every_table(world) == rows
    assert files(world) == present


def app_restore(app: Any, path: Path, *extra: str) -> Any:
    return app.test_cli_runner().invoke(args=["backup", "restore", "--yes", *extra, str(path)])


def test_a_backup_from_another_schema_revision_is_refused_unless_told(world, tmp_path):
    archive = backup(world, tmp_path)
    with world.app_context():
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        # the database moves on to another revision after the backup was taken
        db.session.execute(text("UPDATE alembic_version SET version_num = 'a953ddcd8c50'"))
        db.session.commit()
    try:
        result = app_restore(world, archive)
        assert result.exit_code != 0
        assert f"备份的数据库结构版本（修订 {revision}）与当前数据库（修订 a953ddcd8c50）不同，未恢复" in result.output
        assert "--any-revision" in result.output

        result = app_restore(world, archive, "--any-revision")
        assert result.exit_code == 0, result.output
    finally:
        with world.app_context():
            current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            db.session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
            db.session.commit()
    assert current == revision  # the restore brought the backup's revision back


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="pg_dump: PostgreSQL only")
def test_an_older_pg_dump_than_the_server_is_named(world, tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (fake / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    result = world.test_cli_runner().invoke(args=["backup", "create", "--out", str(tmp_path / "x.tar.gz")])
    assert result.exit_code != 0
    assert "pg_dump 的版本（pg_dump (PostgreSQL) 9.6.24）低于数据库服务器" in result.output
    assert "请安装 PostgreSQL" in result.output
    assert not (tmp_path / "x.tar.gz").exists()


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's online backup")
def test_sqlite_backup_while_another_connection_is_writing(world, tmp_path):
    """The application keeps running: a write in progress neither blocks the backup nor
    ends up in it half-done."""
    import sqlite3

    path = db_path(world)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE estate SET note = 'not yet committed'")
    try:
        archive = backup(world, tmp_path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with tarfile.open(archive) as whole:
        whole.extract("database.sqlite", tmp_path, filter="data")
    copy = sqlite3.connect(tmp_path / "database.sqlite")
    try:
        assert copy.execute("SELECT count(*) FROM estate WHERE note = 'not yet committed'").fetchone()[0] == 0
        assert copy.execute("SELECT count(*) FROM estate").fetchone()[0] > 50
    finally:
        copy.close()


def db_path(app: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
