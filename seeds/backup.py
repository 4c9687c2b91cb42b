"""Backup and restore: the database and the uploaded files, in one archive.

``flask backup create [--out PATH]`` writes a ``.tar.gz`` holding

* ``manifest.json`` — when, from which kind of database, at which schema revision;
* the database: SQLite through its online backup API (the running application is not
  stopped; writers carry on while the copy is taken), PostgreSQL through ``pg_dump``
  in its custom format;
* ``files/<folder>/…`` — every folder of ``instance/`` that holds uploaded files
  (photos, proofs, evidence, import uploads: the folders the declarations name).

``flask backup restore PATH`` puts all of it back, or nothing: the archive is unpacked
and checked first; a backup taken at another schema revision is refused unless
``--any-revision``; the database is replaced in one transaction, and the file folders
are swapped only alongside it. A restore is recorded in the audit trail.

The audit trail refuses row updates and deletes (models.kernel.audit), not replacing the
database: a restore drops the tables and the schema's functions (PostgreSQL) or replaces
the file's pages (SQLite), never deletes rows one by one, and the restored trail goes on
from the backup's last entry.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from models import db, now

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
FILES = "files"


class BackupError(click.ClickException):
    """A backup or restore that cannot go on; the message says why, in Chinese."""


# -- what is backed up -------------------------------------------------------------------


def file_folders() -> list[str]:
    """The folders of instance/ that hold uploaded files: each declared upload's folder,
    and where imports keep the uploaded spreadsheets."""
    from models import declared_models
    from models.kernel.declare import attr_info
    from views.engine.imports import import_root

    folders = {import_root().name}
    for model in declared_models():
        for attr in sa_inspect(model).column_attrs:
            upload = attr_info(attr).get("upload")
            if upload is not None:
                folders.add(upload.folder)
    return sorted(folders)


def dialect() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE:
        raise BackupError(f"不支持备份此类数据库：{name}")
    return name


def current_revision(connection: Any) -> str | None:
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception:  # no alembic_version table: a database never migrated
        return None
    return ",".join(sorted(rows)) or None


def sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份")
    return Path(database).resolve()


@dataclass
class Postgres:
    """The client tools and how to reach the server, from the application's URL.
    The password goes in the environment, never on a command line others can read."""

    conninfo: str
    env: dict[str, str]

    @classmethod
    def from_app(cls) -> "Postgres":
        from psycopg.conninfo import make_conninfo

        url = db.engine.url
        params = {k: v for k, v in url.translate_connect_args(username="user", database="dbname").items()
                  if k != "password" and v is not None}
        params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        return cls(make_conninfo(**{k: str(v) for k, v in params.items()}), env)

    @staticmethod
    def tool(name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise BackupError(f"找不到 PostgreSQL 客户端程序 {name}：请安装与服务器同一主版本的客户端"
                              "（Debian：apt-get install postgresql-client）")
        return found

    def check_version(self, tool: str) -> None:
        """pg_dump refuses a server newer than itself with a terse message; say what to do."""
        output = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"(\d+)(?:\.(\d+))?", output)
        client = int(found.group(1)) if found else 0
        with db.engine.connect() as connection:
            server_num = int(connection.execute(text("SHOW server_version_num")).scalar())
            server_text = connection.execute(text("SHOW server_version")).scalar()
        server = server_num // 10000
        if client < server:
            raise BackupError(
                f"{Path(tool).name} 的版本（{output.strip()}）低于数据库服务器（PostgreSQL {server_text}），"
                f"无法备份或恢复：请安装 PostgreSQL {server} 或更新版本的客户端"
                f"（Debian：apt-get install postgresql-client-{server}，必要时使用 PostgreSQL 官方 apt 源）")

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, capture_output=True, **kwargs)


# -- create --------------------------------------------------------------------------------


def create_backup(out: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write the archive; returns its path and manifest. Written under a temporary name
    and renamed when complete, so a backup that exists is a whole one."""
    kind = dialect()
    instance = Path(current_app.instance_path)
    stamp = now().strftime("%Y%m%d-%H%M%S")
    name = f"wuye-{stamp}.tar.gz"
    folder = not out or str(out).endswith(os.sep) or Path(out).is_dir()
    out = Path(out or instance / "backups")
    if folder:  # a file named by the time, in that folder
        out = out / name
    out.parent.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="wuye-backup-", dir=out.parent) as work:
        dump = Path(work) / DATABASE[kind]
        if kind == "sqlite":
            revision, server = _sqlite_snapshot(dump), None
        else:
            revision, server = _pg_dump(dump)
        folders = [f for f in file_folders() if (instance / f).is_dir()]
        files = sum(1 for f in folders for p in (instance / f).rglob("*") if p.is_file())
        manifest = {"format": FORMAT, "created_at": now().isoformat(timespec="seconds"),
                    "dialect": kind, "revision": revision, "server_version": server,
                    "database": DATABASE[kind], "folders": folders, "files": files}
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(time.time())
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, DATABASE[kind])
            for folder in folders:
                archive.add(instance / folder, f"{FILES}/{folder}")
        partial.chmod(0o600)  # residents' names and phones: readable by the owner only
        partial.replace(out)
    return out, manifest


def _sqlite_snapshot(target: Path) -> str | None:
    """A consistent copy through SQLite's online backup API, as one self-contained file."""
    source = sqlite3.connect(sqlite_path(), timeout=60)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one step: a read snapshot, writers not blocked (WAL)
        copy.execute("PRAGMA journal_mode=DELETE")
        problem = copy.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"数据库副本检查未通过：{problem}")
        return _sqlite_revision(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        rows = [r[0] for r in connection.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError:
        return None
    return ",".join(sorted(rows)) or None


def _pg_dump(target: Path) -> tuple[str | None, str]:
    pg = Postgres.from_app()
    tool = pg.tool("pg_dump")
    pg.check_version(tool)
    with db.engine.connect() as connection:
        revision = current_revision(connection)
        server = connection.execute(text("SHOW server_version")).scalar()
    done = pg.run([tool, "--format=custom", "--file", str(target), "--dbname", pg.conninfo])
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败：{done.stderr.decode(errors='replace').strip()}")
    dumped = _pg_dump_revision(pg, target)
    return dumped if dumped is not None else revision, server


def _pg_dump_revision(pg: Postgres, dump: Path) -> str | None:
    """The schema revision as it is inside the dump: the rows of alembic_version."""
    done = pg.run([pg.tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump)])
    if done.returncode != 0:
        raise BackupError(f"无法读取备份中的数据库：{done.stderr.decode(errors='replace').strip()}")
    lines = done.stdout.decode().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("COPY ") and "alembic_version" in line)
    except StopIteration:
        return None
    rows = []
    for line in lines[start + 1:]:
        if line == "\\.":
            break
        rows.append(line.strip())
    return ",".join(sorted(rows)) or None


# -- restore --------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:*") as archive:
            member = archive.extractfile(MANIFEST)
            manifest = json.loads(member.read()) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"不是本系统的备份文件，或文件已损坏：{path}（{exc}）") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"不是本系统的备份文件，或格式版本不同：{path}")
    return manifest


def restore_backup(path: Path, any_revision: bool = False) -> dict[str, Any]:
    """Replace the database and the uploaded files with the archive's — all of it or none."""
    path = Path(path)
    manifest = read_manifest(path)
    kind = dialect()
    if manifest["dialect"] != kind:
        raise BackupError(f"备份来自 {manifest['dialect']} 数据库，当前数据库是 {kind}，不能恢复")
    instance = Path(current_app.instance_path)
    folders = file_folders()
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=instance) as work:
        staged = Path(work)
        _unpack(path, staged, manifest, folders)
        dump = staged / DATABASE[kind]
        pg = Postgres.from_app() if kind == "postgresql" else None
        backup_revision = _sqlite_revision_of(dump) if pg is None else _pg_dump_revision(pg, dump)
        _check_revision(backup_revision, any_revision)
        if pg is not None:
            pg.check_version(pg.tool("pg_restore"))
        db.session.remove()
        db.engine.dispose()  # this process holds no connection, no lock while restoring

        # the files first, the present ones kept aside: put back if the database is not replaced
        aside = staged / "previous"
        aside.mkdir()
        moved: list[str] = []
        placed: list[str] = []
        try:
            for folder in folders:
                if (instance / folder).exists():
                    (instance / folder).rename(aside / folder)
                    moved.append(folder)
                if (staged / FILES / folder).exists():
                    (staged / FILES / folder).rename(instance / folder)
                    placed.append(folder)
            if pg is None:
                _sqlite_restore(dump)
            else:
                _pg_restore(pg, dump)
        except BaseException:
            for folder in placed:
                shutil.rmtree(instance / folder, ignore_errors=True)
            for folder in moved:
                (aside / folder).rename(instance / folder)
            raise
    _record_restore(path, manifest)
    return manifest


def _unpack(path: Path, staged: Path, manifest: dict[str, Any], folders: list[str]) -> None:
    """Only what a backup holds: the manifest, the database, files under known folders."""
    allowed = (MANIFEST, manifest.get("database"))
    try:
        with tarfile.open(path, "r:*") as archive:
            members = archive.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if not (member.name in allowed or parts == (FILES,) or (
                        len(parts) >= 2 and parts[0] == FILES and parts[1] in folders)):
                    raise BackupError(f"备份中有不应有的内容：{member.name}（数据未改变）")
            archive.extractall(staged, members=members, filter="data")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"备份文件已损坏，无法解开：{exc}（数据未改变）") from exc
    if not (staged / manifest["database"]).is_file():
        raise BackupError("备份中没有数据库（数据未改变）")


def _sqlite_revision_of(dump: Path) -> str | None:
    connection = sqlite3.connect(dump)
    try:
        problem = connection.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"备份中的数据库已损坏：{problem}（数据未改变）")
        return _sqlite_revision(connection)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"备份中的数据库已损坏：{exc}（数据未改变）") from exc
    finally:
        connection.close()


def _check_revision(backup: str | None, any_revision: bool) -> None:
    with db.engine.connect() as connection:
        current = current_revision(connection)
    if backup == current or any_revision:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(Path(current_app.root_path) / "migrations"))
    known = backup is not None and all(_known(script, r) for r in backup.split(","))
    hint = ("恢复后须运行 flask db upgrade 升级到当前版本" if known else
            "该修订不在本程序的迁移中（备份来自更新或其他分支的程序），请用对应版本的程序恢复")
    raise BackupError(f"备份的数据库结构版本（修订 {backup}）与当前数据库（修订 {current}）不同，未恢复。"
                      f"{hint}；确需恢复请加 --any-revision")


def _known(script: Any, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False


def _sqlite_restore(dump: Path) -> None:
    """The backup API in reverse: the live file's pages replaced in one write transaction
    (other connections wait for it, up to the busy timeout), or not at all."""
    source = sqlite3.connect(dump)
    target = sqlite3.connect(sqlite_path(), timeout=60)
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"恢复数据库失败，数据未改变：{exc}") from exc
    finally:
        target.close()
        source.close()


# Everything in the schema goes first, in the same transaction as the dump's contents:
# a backup taken at another revision leaves no table of the present one behind.
PG_CLEAR = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.relname);
  END LOOP;
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'S' LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS public.%I CASCADE', r.relname);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') LOOP
    EXECUTE format('DROP TYPE IF EXISTS public.%I CASCADE', r.typname);
  END LOOP;
  -- the schema's own functions (the audit trail's trigger), not an extension's
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.signature);
  END LOOP;
END $$;
"""


def _pg_restore(pg: Postgres, dump: Path) -> None:
    """pg_restore writes the dump as SQL, psql runs it after clearing the schema — all in
    one transaction that is committed only when pg_restore has read the whole dump
    without an error. Any failure (a damaged dump, a refused statement, a lost
    connection) ends the session without COMMIT: PostgreSQL rolls everything back."""
    restore_tool, psql = pg.tool("pg_restore"), pg.tool("psql")
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        reader = subprocess.Popen([restore_tool, "--no-owner", "--no-privileges", "--file=-", str(dump)],
                                  stdout=subprocess.PIPE, stderr=restore_err, env=pg.env)
        runner = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
                                   "--dbname", pg.conninfo],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err,
                                  env=pg.env)
        try:
            runner.stdin.write(b"SET client_min_messages = warning;\nBEGIN;\n" + PG_CLEAR.encode())
            shutil.copyfileobj(reader.stdout, runner.stdin, 1024 * 1024)
            read_ok = reader.wait() == 0
            runner.stdin.write(b"COMMIT;\n" if read_ok else b"")
        except BrokenPipeError:  # psql stopped at an error: its stderr says which
            read_ok = False
        finally:
            reader.stdout.close()
            reader.wait()
            try:
                runner.stdin.close()
            except BrokenPipeError:
                pass
        ran_ok = runner.wait() == 0
        if read_ok and ran_ok:
            return
        restore_err.seek(0)
        psql_err.seek(0)
        said = "\n".join(part.decode(errors="replace").strip()[-1000:]
                         for part in (psql_err.read(), restore_err.read()) if part.strip())
        raise BackupError(f"恢复数据库失败，已全部回滚，数据未改变：{said}")


def _record_restore(path: Path, manifest: dict[str, Any]) -> None:
    """The restore itself, in the audit trail of the restored database."""
    from models.kernel.audit import AuditAction, acting_as, record

    try:
        with acting_as("命令行：backup restore"):
            record(AuditAction.ACTION, None, note=f"从备份恢复：{path.name}（备份时间 {manifest['created_at']}）",
                   changes={"backup": path.name, "created_at": manifest["created_at"],
                            "revision": manifest.get("revision")})
            db.session.commit()
    except Exception as exc:  # a backup at an older revision may not have today's audit table
        db.session.rollback()
        click.echo(f"注意：未能在操作日志中记录本次恢复（{exc.__class__.__name__}）", err=True)


# -- the commands ---------------------------------------------------------------------------


@click.group(cls=AppGroup, help="备份与恢复：数据库和上传的文件（照片、证明材料、佐证、导入文件）")
def backup() -> None:
    pass


@backup.command("create", help="备份数据库和上传的文件到一个 .tar.gz 文件；应用无需停止")
@click.option("--out", type=click.Path(),
              help="备份文件路径，或目录（以 / 结尾或已存在；文件名为 wuye-日期-时间.tar.gz）；"
                   "默认 instance/backups/")
def backup_create(out: str | None) -> None:
    path, manifest = create_backup(out)
    size = path.stat().st_size / 1024 / 1024
    click.echo(f"备份完成：{path}（{size:.1f} MB；数据库 {manifest['dialect']}，"
               f"结构修订 {manifest['revision']}；上传文件 {manifest['files']} 个）")


@backup.command("restore", help="用备份替换当前数据库的全部数据和上传的文件；全部恢复或什么都不改")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接恢复")
@click.option("--any-revision", is_flag=True,
              help="允许恢复数据库结构版本不同的备份（之后须运行 flask db upgrade）")
def backup_restore(path: Path, yes: bool, any_revision: bool) -> None:
    manifest = read_manifest(path)
    target = db.engine.url.render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"将用备份 {path.name}（备份时间 {manifest['created_at']}，结构修订 {manifest['revision']}）"
                      f"替换数据库 {target} 的全部数据和上传的文件；此后的修改将丢失。确定恢复吗？",
                      abort=True)
    restore_backup(path, any_revision)
    click.echo(f"恢复完成：数据库和上传的文件已恢复到 {manifest['created_at']} 的备份")
