"""Import screens for every model declared ``importable`` (the logic is in models.kernel.imports).

upload → (large files: checked in the background while the page shows progress) →
preview naming every bad row and cell → commit when clean, in one transaction.
The uploaded file is kept server-side; committing reads and checks it again, so
nothing the browser sends can slip past the checks. A file is kept only while it can
still be imported: it goes as soon as its job has an outcome other than "checked, waiting
for 确认导入" (the job keeps the preview and the problems), and a waiting file goes after
KEEP_WAITING. Each account may hold only a few files at a time.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from models import db, now
from models.kernel.audit import acting_as
from models.kernel.imports import MAX_ROWS, ImportJob, Problem, build, columns_for, parse
from models.kernel.scoping import scope_clause

BACKGROUND_BYTES = 200 * 1024  # larger files are checked in the background, with progress
KEEP_WAITING = timedelta(hours=24)  # a checked file waits this long for 确认导入
PENDING_FILES = 5                   # files one account may have being checked or waiting
PENDING_BYTES = 30 * 1024 * 1024    # and their size together
NEEDED = ("checking", "valid", "committing")  # the states in which a job still needs its file
EXPIRED = f"检查通过后超过 {KEEP_WAITING.days * 24} 小时未确认导入，文件已删除，数据未写入；请重新上传"


def import_root() -> Path:
    return Path(current_app.instance_path) / "imports"


class ImportMixin:
    """Mixed into ``DeclaredModelView`` for models with ``importable=True``."""

    def _importable(self) -> None:
        if not self.spec.importable:
            abort(404)
        if not self.allows("create"):
            abort(403)

    def _job(self, job_id: str) -> ImportJob:
        from models.kernel.rules import row_key

        key = row_key(ImportJob.__table__.c.id, job_id)  # a NUL would fail the query on PostgreSQL
        job = db.session.get(ImportJob, key) if key is not None else None
        if job is None or job.model != self.model.__tablename__ or job.user_id != current_user.id:
            abort(404)  # only the uploader sees their file
        return job

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self) -> Any:
        self._importable()
        if request.method == "POST":
            limit = current_app.config["IMPORT_MAX_BYTES"]
            if (request.content_length or 0) > limit:  # refused before the body is read
                return self._refused(f"文件过大：最大 {limit // 1024 // 1024} MB", 413)
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash("请选择要导入的文件", "error")
                return redirect(self.get_url(".import_view"))
            data = upload.read(limit + 1)
            if len(data) > limit:
                return self._refused(f"文件过大：最大 {limit // 1024 // 1024} MB", 413)
            purge(import_root())
            crowded = make_room(current_user.id, self.model.__tablename__, len(data), import_root())
            if crowded:
                return self._refused(crowded, 429)
            job_id = uuid.uuid4().hex
            job = ImportJob(id=job_id, model=self.model.__tablename__, user_id=current_user.id,
                            filename=upload.filename[:200], state="checking", stored=f"{job_id}.upload")
            db.session.add(job)
            db.session.commit()  # the job first: no file is ever on disk without the job that removes it
            try:
                store(data, import_root() / job.stored)
            except OSError:  # a full or unwritable disk: the job says so, no part of the file stays
                current_app.logger.exception("import upload %s could not be saved", job.id)
                retire(job, import_root(), "服务器无法保存上传的文件，数据未写入；请稍后重试或联系管理员", "failed")
                db.session.commit()
                return redirect(self.get_url(".import_job_view", job_id=job.id))
            self._start(job, "check", background=len(data) > BACKGROUND_BYTES)
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        return self._upload_page()

    def _upload_page(self) -> Any:
        return self.render("admin/model/import.html", columns=columns_for(self.model), job=None,
                           max_rows=MAX_ROWS, max_mb=current_app.config["IMPORT_MAX_BYTES"] // 1024 // 1024,
                           keep_hours=KEEP_WAITING.days * 24)

    def _refused(self, message: str, status: int) -> Any:
        # the page itself, not a redirect: a large file is posted by script, which
        # shows the page it gets back and would lose a message left for the next one
        flash(message, "error")
        return self._upload_page(), status

    @expose("/import/template/")
    def import_template_view(self) -> Any:
        self._importable()
        from openpyxl import Workbook
        from openpyxl.styles import Font

        from .exports import content_disposition

        columns = columns_for(self.model)
        book = Workbook()
        sheet = book.active
        sheet.title = str(self.spec.label)[:31]
        sheet.append([f"*{c.label}" if c.required else c.label for c in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            sheet.column_dimensions[cell.column_letter].width = max(12, len(str(cell.value)) * 2 + 2)
        notes = book.create_sheet("填写说明")
        notes.append(["列名", "必填", "填写要求"])
        for c in columns:
            notes.append([c.label, "是" if c.required else "否", _hint(self.model, c.name)])
        buffer = io.BytesIO()
        book.save(buffer)
        buffer.seek(0)
        response = send_file(buffer, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = content_disposition(
            f"{self.spec.label}_导入模板.xlsx", f"{self.endpoint}_template.xlsx")
        return response

    @expose("/import/<job_id>/")
    def import_job_view(self, job_id: str) -> Any:
        self._importable()
        job = self._job(job_id)
        expire_if_stale(job, import_root())
        problems = [Problem(**p) for p in (job.errors or [])]
        return self.render("admin/model/import.html", job=job, problems=problems,
                           columns=columns_for(self.model), preview=job.preview or [],
                           bad_cells={(p.row, p.field) for p in problems}, max_rows=MAX_ROWS,
                           max_mb=current_app.config["IMPORT_MAX_BYTES"] // 1024 // 1024)

    @expose("/import/<job_id>/status/")
    def import_status_view(self, job_id: str) -> Any:
        self._importable()
        job = self._job(job_id)
        return jsonify(state=job.state, processed=job.processed_rows, total=job.total_rows,
                       problems=len(job.errors or []), created=job.created)

    @expose("/import/<job_id>/commit/", methods=("POST",))
    def import_commit_view(self, job_id: str) -> Any:
        self._importable()
        job = self._job(job_id)
        expire_if_stale(job, import_root())
        if job.state == "expired":
            flash("文件已过期，请重新上传", "error")
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        if job.state != "valid":
            flash("该文件尚未通过检查，不能导入", "error")
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        path = import_root() / job.stored
        if not path.is_file():  # removed by hand, or lost with a server's disk
            retire(job, import_root(), "文件已不在服务器上，数据未写入；请重新上传")
            db.session.commit()
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        job.state, job.processed_rows = "committing", 0
        db.session.commit()
        self._start(job, "commit", background=path.stat().st_size > BACKGROUND_BYTES)
        return redirect(self.get_url(".import_job_view", job_id=job.id))

    # -- the work, here or in a background thread -----------------------------------

    def _start(self, job: ImportJob, step: str, background: bool) -> None:
        args = (current_app._get_current_object(), self.model, job.id, current_user.id, step)
        if background and not current_app.config.get("TESTING"):
            threading.Thread(target=run_job, args=(*args, True), daemon=True).start()
        else:
            run_job(*args)


def run_job(app: Any, model: type, job_id: str, user_id: int, step: str, background: bool = False) -> None:
    """Check the stored file, or write it; record the outcome on the job. The file stays
    only while the job waits for 确认导入: any other outcome removes it."""
    from models.accounts import User

    def progress(done: int, total: int) -> None:
        with db.engine.begin() as conn:  # visible to the polling page at once
            conn.execute(ImportJob.__table__.update().where(ImportJob.id == job_id)
                         .values(processed_rows=done, total_rows=total))

    ctx = app.app_context() if not _has_app_context() else None
    if ctx:
        ctx.push()
    path, keep = None, False
    try:
        user = db.session.get(User, user_id)
        job = db.session.get(ImportJob, job_id)
        path = Path(app.instance_path) / "imports" / job.stored
        data = path.read_bytes()
        with acting_as(f"{user.display_name}（{user.username}）：导入", user.id):
            parsed = parse(model, data, job.filename, user, progress if background else None)
            db.session.rollback()  # checking built unsaved rows; keep none of them
            job = db.session.get(ImportJob, job_id)
            job.total_rows = job.processed_rows = len(parsed.rows)
            if parsed.problems:
                job.state, job.errors = "invalid", [p.__dict__ for p in parsed.problems]
            elif step == "check":
                job.state, job.errors = "valid", []
            else:
                problems = write_rows(model, parsed, user)
                job = db.session.get(ImportJob, job_id)
                if problems:
                    job.state, job.errors = "invalid", [p.__dict__ for p in problems]
                else:
                    job.state, job.created = "done", len(parsed.rows)
            job.preview = parsed.raw
            db.session.commit()
            keep = job.state == "valid"
    except Exception:  # never leave a job spinning: say it failed
        db.session.rollback()
        app.logger.exception("import job %s failed", job_id)
        job = db.session.get(ImportJob, job_id)
        if job is not None:
            job.state = "failed"
            job.errors = [Problem(None, None, "导入失败，数据未写入；请稍后重试或联系管理员").__dict__]
            db.session.commit()
    finally:
        if path is not None and not keep:
            path.unlink(missing_ok=True)
        if ctx:
            db.session.remove()
            ctx.pop()


# -- files no one needs: each account's share, expiry, strays ------------------------------


def store(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def retire(job: ImportJob, root: Path, message: str, state: str = "expired") -> None:
    """The job ends without importing, and its file goes; the caller commits."""
    (root / job.stored).unlink(missing_ok=True)
    job.state, job.errors = state, [Problem(None, None, message).__dict__]


def expire_if_stale(job: ImportJob, root: Path) -> None:
    if job.state == "valid" and job.created_at < now() - KEEP_WAITING:
        retire(job, root, EXPIRED)
        db.session.commit()


def make_room(user_id: int, model: str, size: int, root: Path) -> str | None:
    """Why this account may not upload ``size`` more bytes now, or None. An upload
    replaces the account's earlier file of the same kind still waiting for 确认导入
    (the page offers 重新上传 for just that), so ordinary use never meets the limit."""
    held = db.session.scalars(select(ImportJob).where(ImportJob.user_id == user_id,
                                                      ImportJob.state.in_(NEEDED))).all()
    replaced = [j for j in held if j.model == model and j.state == "valid"]
    others = [j for j in held if j not in replaced]
    volume = sum(_size(root / j.stored) for j in others)
    if len(others) >= PENDING_FILES or volume + size > PENDING_BYTES:
        return (f"您已有 {len(others)} 个文件正在检查或等待确认导入（共 {volume / 1024 / 1024:.1f} MB），"
                f"每个账号最多 {PENDING_FILES} 个、共 {PENDING_BYTES // 1024 // 1024} MB；"
                f"请先确认导入这些文件，或等它们过期（检查通过 {KEEP_WAITING.days * 24} 小时后自动删除）再上传")
    for job in replaced:
        retire(job, root, "已上传了新的文件，此文件作废，数据未写入；请在新文件的页面确认导入")
    db.session.commit()
    return None


def purge(root: Path) -> None:
    """Remove what no one can use any more: files waiting too long for 确认导入, checks
    that a restarted worker left hanging, and files no job needs (such as those kept
    by versions before jobs removed their own)."""
    stale = db.session.scalars(select(ImportJob).where(ImportJob.state.in_(NEEDED),
                                                       ImportJob.created_at < now() - KEEP_WAITING)).all()
    for job in stale:
        if job.state == "valid":
            retire(job, root, EXPIRED)
        elif job.created_at < now() - 2 * KEEP_WAITING:  # no check or write runs for a day
            retire(job, root, "检查或导入被中断，数据未写入；请重新上传", state="failed")
    db.session.commit()
    if not root.is_dir():
        return
    needed = set(db.session.scalars(select(ImportJob.stored).where(ImportJob.state.in_(NEEDED))))
    settled = time.time() - 600  # a file just uploaded may belong to a job saved after the query above
    for path in root.glob("*.upload"):
        if path.name not in needed and _mtime(path) < settled:
            path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile
        return time.time()


def _has_app_context() -> bool:
    from flask import has_app_context

    return has_app_context()


def write_rows(model: type, parsed: Any, user: Any) -> list[Problem]:
    """All rows in one transaction; every row must land in the user's scope."""
    from sqlalchemy.exc import IntegrityError

    from models.kernel.rules import integrity_message

    try:
        with db.session.no_autoflush:
            objects = [build(model, values) for values in parsed.rows]
            db.session.add_all(objects)
        db.session.flush()
        clause = scope_clause(model, user, write=True)
        if clause is not None:
            pk = sa_inspect(model).primary_key[0]
            ids = [sa_inspect(o).identity[0] for o in objects]
            inside = db.session.scalar(select(func.count()).select_from(model).where(pk.in_(ids), clause))
            if inside != len(ids):
                db.session.rollback()
                return [Problem(None, None, "有记录不在您的管辖范围内，全部未导入")]
        db.session.commit()
        return []
    except IntegrityError as exc:
        db.session.rollback()
        return [Problem(None, None, f"全部未导入：{integrity_message(exc, model)}")]


def _hint(model: type, name: str) -> str:
    from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric

    from models.kernel.declare import ChoiceType, attr_info, lookup_fields

    mapper = sa_inspect(model)
    if name in mapper.relationships:
        target = mapper.relationships[name].mapper.class_
        return f"填写已有{target.__admin__.label}的{lookup_fields(target)[0] == 'name' and '名称' or '标识'}"
    attr = mapper.column_attrs[name]
    ctype, info = attr.columns[0].type, attr_info(attr)
    if isinstance(ctype, ChoiceType):
        return "可选：" + "、".join(m.label for m in ctype.choices)
    if isinstance(ctype, Boolean):
        return "是 或 否"
    if isinstance(ctype, DateTime):
        return "日期时间，如 2026-06-30 09:00"
    if isinstance(ctype, Date):
        return "日期，如 2026-06-30"
    if isinstance(ctype, (Integer, Numeric)):
        bounds = [f"不小于 {info['min']}" if "min" in info else "", f"不大于 {info['max']}" if "max" in info else ""]
        kind = "整数" if isinstance(ctype, Integer) else "数字"
        return f"{kind}，不带单位" + ("（" + "，".join(b for b in bounds if b) + "）" if any(bounds) else "")
    return info.get("help") or "文字"
