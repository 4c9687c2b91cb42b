"""The baseline: plain Flask-Admin over the same tables, as a user would first write it.

``ModelView`` with the columns, search and filters one would declare, and nothing
else: its exact COUNT on every page, its LIKE search, its OFFSET pages, its dropdown
of every estate in the edit form, its lazy loads of related names, its export.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_admin import Admin
from flask_babel import Babel
from flask_admin.contrib.sqla import ModelView

from models import db


class PlainTicketView(ModelView):
    column_list = ["call_at", "estate", "category", "caller", "state", "complete_due_at"]
    column_searchable_list = ["caller", "phone", "address", "description"]
    column_filters = ["state", "category", "estate", "call_at"]
    column_default_sort = ("call_at", True)
    column_sortable_list = ["call_at", "category", "caller", "state", "complete_due_at"]
    form_columns = ["estate", "call_at", "caller", "phone", "address", "category", "description"]
    can_view_details = True
    can_export = True


class PlainComplaintView(ModelView):
    column_list = ["received_at", "estate", "channel", "kind", "complainant", "state", "feedback_due_at"]
    column_searchable_list = ["complainant", "phone", "content", "result"]
    column_filters = ["state", "channel", "kind", "estate", "received_at"]
    column_default_sort = ("received_at", True)
    can_view_details = True
    can_export = True
    export_max_rows = 0  # the whole list, as the product exports it


def create_plain_app(database_url: str) -> Flask:
    from models.casework import Complaint
    from models.repairs import RepairTicket

    app = Flask("plain")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="plain",
                      FLASK_ADMIN_SWATCH="default")
    db.init_app(app)
    Babel(app, default_locale="zh_Hans_CN")  # Flask-Admin uses it when it is installed
    admin = Admin(app, name="plain", url="/plain")
    admin.add_view(PlainTicketView(RepairTicket, db.session, endpoint="plain_ticket"))
    admin.add_view(PlainComplaintView(Complaint, db.session, endpoint="plain_complaint"))
    return app


def filter_arg(view: Any, column: str, kind: str = "Equal") -> str:
    """The URL argument of the view's first filter on ``column`` whose class name has
    ``kind`` (and is not a negation): ``flt0_<index>``."""
    for index, flt in enumerate(view._filters):
        target = getattr(flt, "column", None)
        name = getattr(target, "key", None) or getattr(target, "name", None)
        classes = [c.__name__ for c in type(flt).__mro__]
        if name == column and any(kind in c and "Not" not in c for c in classes[:2]):
            return f"flt0_{index}"
    raise LookupError(f"{type(view).__name__}: no {kind} filter on {column}")
