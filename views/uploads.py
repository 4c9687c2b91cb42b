"""Uploaded files, declared on a column with ``field(..., upload=Upload(...))``.

* the type is checked by the file's first bytes, not only its name, and the size
  before it is kept;
* files are stored under ``instance/<folder>/`` with random names (a user's Chinese
  file name cannot clash or traverse), and served only through the owning row's own
  view, so the row's scope and permissions decide who may see them;
* a file follows its write: the one it replaces is removed only when the write
  commits, and a new one is removed if the write is refused and rolled back.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from flask_admin.form.upload import FileUploadField
from markupsafe import Markup, escape
from sqlalchemy import event
from werkzeug.datastructures import FileStorage
from wtforms import ValidationError

from models import AppSession, db
from models.kernel.declare import Upload

SIGNATURES = {
    "jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"), "pdf": (b"%PDF-",),
}
MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
        "gif": "image/gif", "pdf": "application/pdf"}


def upload_root(spec: Upload) -> str:
    root = Path(current_app.instance_path) / spec.folder
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


def _kind(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for kind, signatures in SIGNATURES.items():
        if any(head.startswith(s) for s in signatures):
            return kind
    return None


class CheckedUpload:
    """Refuses a file that is not what its declaration allows, in Chinese."""

    def __init__(self, spec: Upload):
        self.spec = spec

    def __call__(self, form: Any, field: Any) -> None:
        data = field.data
        if not isinstance(data, FileStorage) or not data.filename:
            return
        stream = data.stream
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if size > self.spec.max_bytes:
            raise ValidationError(f"文件过大：{size / 1024 / 1024:.1f} MB，最大允许 "
                                  f"{self.spec.max_bytes / 1024 / 1024:.0f} MB")
        kind = _kind(stream.read(16))
        stream.seek(0)
        allowed = {"jpeg" if t == "jpg" else t for t in self.spec.types}
        if kind is None or ("jpeg" if kind == "jpg" else kind) not in allowed:
            raise ValidationError(f"文件类型不符：只接受 {'、'.join(self.spec.types)} 格式的文件")


def random_name(obj: Any, file_data: FileStorage) -> str:
    ext = Path(file_data.filename or "").suffix.lower()[:8]
    return f"{uuid.uuid4().hex}{ext}"


class TransactionalUploadField(FileUploadField):
    """Flask-Admin removes the replaced file as soon as the form is applied, before the
    row's rules run: a save they refuse would leave the row naming a file that is gone.
    Here removals wait for the commit, and a file stored for a refused save is removed."""

    def _delete_file(self, filename: str) -> None:
        db.session.info.setdefault("files_on_commit", []).append(self._get_path(filename))

    def _save_file(self, data: FileStorage, filename: str) -> str:
        name = super()._save_file(data, filename)
        db.session.info.setdefault("files_on_rollback", []).append(self._get_path(name))
        return name


def _remove(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


@event.listens_for(AppSession, "after_commit")
def _files_after_commit(session: Any) -> None:
    session.info.pop("files_on_rollback", None)
    _remove(session.info.pop("files_on_commit", []))


@event.listens_for(AppSession, "after_soft_rollback")
def _files_after_rollback(session: Any, previous_transaction: Any) -> None:
    if previous_transaction.parent is not None:  # a savepoint: the write may still commit
        return
    session.info.pop("files_on_commit", None)
    _remove(session.info.pop("files_on_rollback", []))


def field_options(spec: Upload) -> dict[str, Any]:
    """``form_overrides``/``form_args`` entries for one upload column."""
    return {
        "override": TransactionalUploadField,
        "args": {"base_path": lambda: upload_root(spec), "namegen": random_name,
                 "allowed_extensions": spec.types, "validators": [CheckedUpload(spec)]},
    }


def mimetype(name: str) -> str:
    return MIME.get(Path(name).suffix.lower().lstrip("."), "application/octet-stream")


def thumbnail(url: str, name: str | None) -> Markup:
    if not name:
        return Markup("")
    if mimetype(name).startswith("image/"):
        return Markup(f'<a href="{escape(url)}" target="_blank" rel="noopener">'
                      f'<img src="{escape(url)}" alt="照片" style="max-height:80px;max-width:120px"></a>')
    return Markup(f'<a href="{escape(url)}" target="_blank" rel="noopener">查看文件</a>')
