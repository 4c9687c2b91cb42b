"""The view every declared model gets: Flask-Admin's ``ModelView`` with the engine's
concerns mixed in — access and scope (access.py), the list (listing.py), writes
(writes.py). What a model declares adds the rest when its view is built (build.py):
workflow steps, import, files, a print page. A model with none of them has none of
their endpoints."""

from __future__ import annotations

from flask_admin.contrib.sqla import ModelView

from models.kernel.declare import ModelAdmin

from .access import AccessMixin
from .fields import AdminForm
from .listing import ListMixin
from .writes import WriteMixin


class DeclaredModelView(AccessMixin, ListMixin, WriteMixin, ModelView):
    """A Flask-Admin ``ModelView`` configured entirely from a ``ModelAdmin``."""

    spec: ModelAdmin
    form_base_class = AdminForm
    list_template = "admin/model/app_list.html"
    details_template = "admin/model/app_details.html"
    edit_template = "admin/model/app_edit.html"
    create_template = "admin/model/app_create.html"
    can_view_details = True
    can_set_page_size = True
    row_history = True  # each list row links to its history (the audit log's own rows do not)
    page_size_options = (20, 50, 100)
    column_display_pk = False
    column_display_all_relations = False
    export_types = ["csv", "xlsx"]
    action_disallowed_list: list[str] = []

