"""Uploaded files and printable pages: endpoints only for models that declare them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import abort, request
from flask_admin import expose

from models import now
from models.kernel.paths import column_label

log = logging.getLogger(__name__)


class FileMixin:
    """A model with upload columns: its files, served through the row's scope."""

    @expose("/file/")
    def file_view(self) -> Any:
        from flask import send_from_directory

        from ..uploads import mimetype, upload_root

        column = request.args.get("column", "")
        spec = self._uploads.get(column)
        if spec is None:
            abort(404)
        name = getattr(self.get_one(request.args.get("id")), column)
        if not name:
            abort(404)
        return send_from_directory(upload_root(spec), name, mimetype=mimetype(name),
                                   as_attachment=not mimetype(name).startswith("image/"))

    def after_model_delete(self, model: Any) -> None:
        from ..uploads import upload_root

        for column, spec in self._uploads.items():  # the file goes with its row
            name = getattr(model, column, None)
            if name:
                Path(upload_root(spec), name).unlink(missing_ok=True)
        super().after_model_delete(model)


class PrintMixin:
    """A model with a print template: one row as an A4 page."""

    @expose("/print/")
    def print_view(self) -> Any:
        from flask import render_template

        if not self.spec.print_template:
            abort(404)
        row = self.get_one(request.args.get("id"))
        return render_template(self.spec.print_template, row=row, view=self, printed_at=now(),
                               label=lambda name: column_label(self.model, name))
