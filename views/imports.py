"""Import screens for every model declared ``importable`` (the logic is in models.imports).

upload → (large files: checked in the background while the page shows progress) →
preview naming every bad row and cell → commit when clean, in one transaction.
The uploaded file is kept server-side; committing reads and checks it again, so
nothing the browser sends can slip past the checks.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from models import db
from models.audit import acting_as
from models.imports import MAX_ROWS, ImportJob, Problem, build, columns_for, parse, store
from models.scoping import scope_clause

BACKGROUND_BYTES = 200 * 1024  # larger files are checked in the background, with progress


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
        from views.engine import row_key

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
                flash(f"文件过大：最大 {limit // 1024 // 1024} MB", "error")
                return redirect(self.get_url(".import_view"))
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash("请选择要导入的文件", "error")
                return redirect(self.get_url(".import_view"))
            data = upload.read(limit + 1)
            if len(data) > limit:
                flash(f"文件过大：最大 {limit // 1024 // 1024} MB", "error")
                return redirect(self.get_url(".import_view"))
            job = ImportJob(id=store(data, import_root()).split(".")[0], model=self.model.__tablename__,
                            user_id=current_user.id, filename=upload.filename[:200], state="checking")
            job.stored = f"{job.id}.upload"
            db.session.add(job)
            db.session.commit()
            self._start(job, "check", background=len(data) > BACKGROUND_BYTES)
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        return self.render("admin/model/import.html", columns=columns_for(self.model), job=None,
                           max_rows=MAX_ROWS, max_mb=current_app.config["IMPORT_MAX_BYTES"] // 1024 // 1024)

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
        if job.state != "valid":
            flash("该文件尚未通过检查，不能导入", "error")
            return redirect(self.get_url(".import_job_view", job_id=job.id))
        job.state, job.processed_rows = "committing", 0
        db.session.commit()
        size = (import_root() / job.stored).stat().st_size
        self._start(job, "commit", background=size > BACKGROUND_BYTES)
        return redirect(self.get_url(".import_job_view", job_id=job.id))

    # -- the work, here or in a background thread -----------------------------------

    def _start(self, job: ImportJob, step: str, background: bool) -> None:
        args = (current_app._get_current_object(), self.model, job.id, current_user.id, step)
        if background and not current_app.config.get("TESTING"):
            threading.Thread(target=run_job, args=(*args, True), daemon=True).start()
        else:
            run_job(*args)


def run_job(app: Any, model: type, job_id: str, user_id: int, step: str, background: bool = False) -> None:
    """Check the stored file, or write it; record the outcome on the job."""
    from models.accounts import User

    def progress(done: int, total: int) -> None:
        with db.engine.begin() as conn:  # visible to the polling page at once
            conn.execute(ImportJob.__table__.update().where(ImportJob.id == job_id)
                         .values(processed_rows=done, total_rows=total))

    ctx = app.app_context() if not _has_app_context() else None
    if ctx:
        ctx.push()
    try:
        user = db.session.get(User, user_id)
        job = db.session.get(ImportJob, job_id)
        data = (Path(app.instance_path) / "imports" / job.stored).read_bytes()
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
    except Exception:  # never leave a job spinning: say it failed
        db.session.rollback()
        app.logger.exception("import job %s failed", job_id)
        job = db.session.get(ImportJob, job_id)
        if job is not None:
            job.state = "failed"
            job.errors = [Problem(None, None, "导入失败，数据未写入；请稍后重试或联系管理员").__dict__]
            db.session.commit()
    finally:
        if ctx:
            db.session.remove()
            ctx.pop()


def _has_app_context() -> bool:
    from flask import has_app_context

    return has_app_context()


def write_rows(model: type, parsed: Any, user: Any) -> list[Problem]:
    """All rows in one transaction; every row must land in the user's scope."""
    from views.engine import integrity_message

    from sqlalchemy.exc import IntegrityError

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

    from models.declare import ChoiceType, attr_info, lookup_fields

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
