"""The home page after login: the user's part of the street at a glance."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from models import db, declared_models
from models.estates import Estate, EstateClass, ManagementMode
from models.governance import Community
from models.inspections import Rectification, RectState
from models.kernel.access import may
from models.kernel.declare import attention_flags
from models.kernel.paths import column_label
from models.kernel.scoping import scope_clause


def scoped(stmt: Any, model: type) -> Any:
    clause = scope_clause(model, current_user)
    return stmt if clause is None else stmt.where(clause)


class HomeView(AdminIndexView):
    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @expose("/")
    def index(self) -> Any:
        by_class_mode = db.session.execute(scoped(
            select(Estate.estate_class, Estate.management_mode, func.count())
            .group_by(Estate.estate_class, Estate.management_mode), Estate)).all()
        grid: dict[Any, dict[Any, int]] = {c: {m: 0 for m in [*ManagementMode, None]}
                                           for c in EstateClass}
        for cls, mode, n in by_class_mode:
            grid[cls][mode] += n
        summary = {
            "communities": db.session.scalar(scoped(select(func.count()).select_from(Community),
                                                    Community)),
            "estates": sum(n for _, _, n in by_class_mode),
            "pilots": db.session.scalar(scoped(
                select(func.count()).select_from(Estate).where(Estate.is_pilot), Estate)),
        }
        return self.render("admin/home.html", grid=grid, classes=list(EstateClass),
                           modes=[*ManagementMode, None], summary=summary,
                           attention=self.attention(), rectifications=self.open_rectifications(),
                           dashboard=self.dashboard(grid))

    def dashboard(self, grid: dict) -> dict[str, Any]:
        """What the charts draw, all for the user's scope: estates by class and mode,
        what is late now by kind, indicators against targets, rollout progress."""
        from models import now
        from models.kernel.deadlines import late_counts, open_deadlines
        from models.rollout import RolloutPlan, Target
        from models.kernel.scoping import ids_in_scope
        from models.standing import standing

        late: dict[str, int] = {}
        for model, clock, n in late_counts(current_user):
            late[model.__admin__.label] = late.get(model.__admin__.label, 0) + n
        worst = [{"label": f"{d.model.__admin__.label}：{d.row}", "clock": d.clock.label,
                  "url": url_for(f"{d.model.__tablename__}.details_view", id=d.row.id)}
                 for d in open_deadlines(current_user, per_clock=5) if d.late is not None][:5]
        estates = ids_in_scope(Estate, current_user)
        today = now().date()
        rows = standing(estates, today.replace(month=1, day=1), today)
        plans = db.session.scalars(scoped(select(RolloutPlan).order_by(RolloutPlan.id), RolloutPlan)).all()
        targets = db.session.scalars(scoped(select(Target).order_by(Target.seq), Target)).all()
        return {
            "classes": {"labels": [c.label for c in EstateClass],
                        "values": [sum(grid[c].values()) for c in EstateClass]},
            "modes": {"labels": [m.label if m else "未定" for m in [*ManagementMode, None]],
                      "values": [sum(grid[c][m] for c in EstateClass) for m in [*ManagementMode, None]]},
            "late": {"labels": list(late), "values": list(late.values())},
            "late_total": sum(late.values()), "late_worst": worst,
            "indicators": {"labels": ["达标", "未达标", "暂无数据"],
                           "values": [sum(1 for r in rows if r.meets is True), sum(1 for r in rows if r.meets is False),
                                      sum(1 for r in rows if r.meets is None)]},
            "missed": [f"{r.indicator.name}（{r.value}{r.indicator.unit.label}，目标{r.indicator.target_text}）"
                       for r in rows if r.meets is False],
            "phases": [{"plan": p.name, "phase": str(ph), "done": ph.task_done, "total": ph.task_total,
                        "state": ph.state.label} for p in plans for ph in p.phases],
            "targets": [{"text": t.text, "current": t.current, "target": t.target} for t in targets],
        }

    def open_rectifications(self) -> list[Rectification]:
        """Open rectifications in scope, most urgent first: a committee member's to-do."""
        if not may(current_user, Rectification.__admin__, "read"):
            return []
        stmt = scoped(select(Rectification).where(Rectification.state != RectState.VERIFIED.value)
                      .order_by(Rectification.deadline), Rectification)
        return list(db.session.scalars(stmt.limit(10)))

    def attention(self) -> list[dict[str, Any]]:
        """Every flag a model declares as asking for attention (models.kernel.declare.
        attention_flags), counted in the user's scope, for the models the role may read."""
        out = []
        for model in declared_models():
            if not may(current_user, model.__admin__, "read"):
                continue
            for flag in attention_flags(model):
                count = db.session.scalar(scoped(
                    select(func.count()).select_from(model).where(getattr(model, flag)), model))
                out.append({"label": f"{model.__admin__.label}：{column_label(model, flag)}",
                            "count": count, "url": flag_url(self.admin, model, flag)})
        return out


def flag_url(admin: Any, model: type, flag: str) -> str | None:
    """The list of ``model`` filtered on ``flag`` = 是."""
    label = column_label(model, flag)
    for view in admin._views:
        if getattr(view, "model", None) is model:
            for index, flt in enumerate(view._filters or ()):
                if str(flt.name) == label:
                    return url_for(f"{view.endpoint}.index_view", **{f"flt0_{index}": 1})
    return None
