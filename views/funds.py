"""The subsidy list with its totals (补贴汇总): what the list shows — search, filters,
scope — summed per year and recipient, so the totals always agree with the rows."""

from __future__ import annotations

from typing import Any

from flask import g

from models.fees import subsidy_totals

from .engine import DeclaredModelView


class SubsidyView(DeclaredModelView):
    list_template = "admin/model/subsidy_list.html"
    list_summary_statements = 1  # the totals: one aggregate query, however many rows

    def _apply_pagination(self, query: Any, page: Any, page_size: Any) -> Any:
        # the list's rows before paging (search, filters, scope applied) are what the
        # totals sum; kept for this request only, and no second count is run
        g.subsidies_listed = query
        return super()._apply_pagination(query, page, page_size)

    def render(self, template: str, **kwargs: Any) -> Any:
        listed = g.pop("subsidies_listed", None)
        if template == self.list_template and listed is not None:
            kwargs["totals"] = subsidy_totals(listed.with_entities(self.model.id).order_by(None).statement)
        return super().render(template, **kwargs)
