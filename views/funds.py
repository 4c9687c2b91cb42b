"""The subsidy list with its totals (补贴汇总): what the list shows — search, filters,
scope — summed per year and recipient, so the totals always agree with the rows."""

from __future__ import annotations

from typing import Any

from models.funds import subsidy_totals

from .engine import DeclaredModelView


class SubsidyView(DeclaredModelView):
    list_template = "admin/model/subsidy_list.html"

    def render(self, template: str, **kwargs: Any) -> Any:
        if template == self.list_template:
            args = self._get_list_extra_args()
            _, query = self.get_list(0, None, False, args.search, args.filters, execute=False, page_size=0)
            kwargs["totals"] = subsidy_totals(query.with_entities(self.model.id).order_by(None).statement)
        return super().render(template, **kwargs)
