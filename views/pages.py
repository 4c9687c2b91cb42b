"""Pages across models, for the user's scope: what is late now, and the standing
against the indicators (the casework rates included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pathlib import Path

from flask import current_app, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import or_, select

from models import db, now
from models.funds import money_models
from models.kernel.deadlines import open_deadlines
from models.estates import Estate
from models.governance import Community
from models.kernel.scoping import among, ids_in_scope, scope_clause
from models.kernel.softdelete import not_deleted
from models.service_center import patrol_gaps
from models.standing import cleaning_shortfalls, standing

from .params import Arg, read_args
from .engine.workflow import describe_gap

COMMUNITY = Arg("community", "社区", "id")


class ScopedPage(BaseView):
    """A page any logged-in user may open; what it shows is limited to their scope."""

    query_args: tuple[Arg, ...] = ()  # what it reads from its URL (views.params)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    def estates(self) -> list[Estate]:
        stmt = select(Estate).join(Estate.community).order_by(Community.name, Estate.name)
        clause = scope_clause(Estate, current_user)
        return list(db.session.scalars(stmt if clause is None else stmt.where(clause)))

    def communities(self) -> list[Community]:
        stmt = select(Community).order_by(Community.name)
        clause = scope_clause(Community, current_user)
        return list(db.session.scalars(stmt if clause is None else stmt.where(clause)))


class LateView(ScopedPage):
    """Everything late or nearly due now, across stations, for the user's scope."""

    PER_KIND = 200  # the most late of each kind; the counts say how many there are in all
    query_args = (COMMUNITY,)

    @expose("/")
    def index(self) -> Any:
        from models.kernel.deadlines import late_counts

        community_id = read_args(self.query_args)["community"]
        estates = ids_in_scope(Estate, current_user)
        if community_id:
            chosen = select(Estate.id).where(Estate.community_id == community_id, not_deleted(Estate))
            estates = chosen.where(among(Estate.id, estates))
        deadlines = open_deadlines(current_user, estates, per_clock=self.PER_KIND)
        names = {e.id: (e.name, c) for e, c in db.session.execute(
            select(Estate, Community.name).join(Estate.community)
            .where(Estate.id.in_({d.estate_id for d in deadlines if d.estate_id})))}
        rows = []
        for d in deadlines:
            estate, community = names.get(d.estate_id, ("", ""))
            rows.append({
                "kind": d.model.__admin__.label, "record": str(d.row), "clock": d.clock.label,
                "due": d.due, "late": describe_gap(d.late) if d.late else None,
                "left": describe_gap(d.left) if d.left is not None else None,
                "estate": estate, "community": community,
                "url": url_for(f"{d.model.__tablename__}.details_view", id=d.row.id),
            })
        counts = [{"kind": m.__admin__.label, "clock": c.label, "count": n,
                   "shown": min(n, self.PER_KIND)} for m, c, n in late_counts(current_user, estates)]
        yesterday = now().date() - timedelta(days=1)
        from models.kernel.access import may
        from models.service_center import Patrol

        # patrols are the service center's: only who may read them sees their gaps
        patrols_readable = may(current_user, Patrol.__admin__, "read")
        all_gaps = patrol_gaps(estates, yesterday - timedelta(days=6), yesterday) if patrols_readable else []
        shown = all_gaps[: self.PER_KIND]
        gap_names = {e: (name, c) for e, name, c in db.session.execute(
            select(Estate.id, Estate.name, Community.name).join(Estate.community)
            .where(Estate.id.in_({g[0] for g in shown})))}
        gaps = [{"estate": gap_names[e][0], "community": gap_names[e][1], "day": day, "count": n}
                for e, day, n in shown]
        return self.render("admin/late.html", rows=rows, gaps=gaps, gap_total=len(all_gaps), counts=counts,
                           per_kind=self.PER_KIND, late_total=sum(c["count"] for c in counts),
                           communities=self.communities(), community_id=community_id,
                           patrols_readable=patrols_readable)


class StandingView(ScopedPage):
    LISTED = 2000   # estates offered in the picker; a city picks a community first
    SHORTFALLS = 200
    query_args = (Arg("level", "范围", "choice", ("all", "street", "community", "estate")),
                  Arg("key", "街道、社区或小区", "id"), Arg("start", "开始日期", "date"),
                  Arg("end", "结束日期", "date"), Arg("month", "保洁考核月份", "month"))

    @expose("/")
    def index(self) -> Any:
        from sqlalchemy import func

        args = read_args(self.query_args)
        communities = self.communities()
        streets = self.streets()
        today = now().date()
        start = args["start"] or today.replace(month=1, day=1)
        end = args["end"] or today
        month = args["month"] or today.replace(day=1)
        level, key = args["level"], args["key"]
        scope = ids_in_scope(Estate, current_user)
        live = select(Estate.id).where(not_deleted(Estate))
        if level == "estate":
            chosen = live.where(Estate.id == key)
        elif level == "community":
            chosen = live.where(Estate.community_id == key)
        elif level == "street":  # an installation may serve several streets
            chosen = live.join(Estate.community).where(Community.street_id == key)
        else:
            chosen = None
        if chosen is not None and scope is not None:
            chosen = chosen.where(among(Estate.id, scope))
        elif chosen is None:
            chosen = scope
        estate_count = db.session.scalar(select(func.count()).select_from(Estate).where(among(Estate.id, chosen)))
        error = "开始日期不能晚于结束日期" if start > end else None
        rows = [] if error else standing(chosen, start, end)
        short = cleaning_shortfalls(chosen, month)
        shown = {e.id: e for e in db.session.scalars(select(Estate).where(
            Estate.id.in_([c.estate_id for c in short[: self.SHORTFALLS]])))}
        shortfalls = [(shown[c.estate_id], c) for c in short[: self.SHORTFALLS]]
        return self.render("admin/standing.html", rows=rows, estates=self.picker(scope, level, key),
                           communities=communities, streets=streets, start=start, end=end, month=month,
                           level=level, key=key, error=error, estate_count=estate_count,
                           shortfalls=shortfalls, shortfall_total=len(short),
                           month_over=month.replace(day=1) < today.replace(day=1),
                           month_ahead=month.replace(day=1) > today)

    def picker(self, scope: Any, level: str, key: int | None) -> list[Any]:
        """(id, name) of the estates to offer: all in scope when they are few, else those of
        the community chosen (or of the chosen estate's community)."""

        stmt = select(Estate.id, Estate.name).where(among(Estate.id, scope)).order_by(Estate.name)
        rows = db.session.execute(stmt.limit(self.LISTED + 1)).all()
        if len(rows) <= self.LISTED:
            return rows
        if level == "community" and key:
            return db.session.execute(stmt.where(Estate.community_id == key)).all()
        if level == "estate" and key:
            community = select(Estate.community_id).where(Estate.id == key).scalar_subquery()
            return db.session.execute(stmt.where(Estate.community_id == community)).all()
        return []

    def streets(self) -> list[Any]:
        from models.governance import Street

        stmt = select(Street).order_by(Street.name)
        clause = scope_clause(Street, current_user)
        return list(db.session.scalars(stmt if clause is None else stmt.where(clause)))


class RolloutView(ScopedPage):
    """The rollout at a glance (推进实施总览)."""

    query_args = (COMMUNITY,)

    @expose("/")
    def index(self) -> Any:
        from models.rollout import (MilestoneKind, Pilot, RolloutPlan, Target, Task, TaskState,
                                    metric_count)

        communities = self.communities()
        community_id = read_args(self.query_args)["community"]
        today = now().date()

        def scoped(model: type, stmt: Any) -> Any:
            clause = scope_clause(model, current_user)
            return stmt if clause is None else stmt.where(clause)

        plans = db.session.scalars(scoped(RolloutPlan, select(RolloutPlan).order_by(RolloutPlan.year.desc(),
                                                                                   RolloutPlan.id))).all()
        timelines = [_timeline(plan, today) for plan in plans]

        pilots = db.session.scalars(scoped(Pilot, select(Pilot).join(Pilot.estate).order_by(Pilot.designated_on))).all()
        if community_id:
            pilots = [p for p in pilots if p.estate.community_id == community_id]
        kinds = list(MilestoneKind)

        targets = db.session.scalars(scoped(Target, select(Target).order_by(Target.seq))).all()
        shown = [c for c in communities if community_id in (None, c.id)]
        by_community = {(t.id, c.id): db.session.scalar(metric_count(t.metric, community_id=c.id))
                        for t in targets for c in shown}
        # progress counts what is shown: the chosen community, else the user's communities
        progress = {t.id: db.session.scalar(metric_count(t.metric, street_id=t.street_id,
                                                         community_ids=[c.id for c in shown]))
                    for t in targets}
        chosen = next((c for c in communities if c.id == community_id), None)

        overdue = db.session.scalars(scoped(Task, select(Task).where(
            Task.state == TaskState.OPEN.value, Task.due_on < today).order_by(Task.due_on))).all()
        if community_id:
            overdue = [t for t in overdue if t.estate is not None and t.estate.community_id == community_id]
        return self.render("admin/rollout.html", timelines=timelines, pilots=pilots, kinds=kinds,
                           targets=targets, communities=communities, shown=shown, by_community=by_community,
                           progress=progress, chosen=chosen, overdue=overdue, community_id=community_id,
                           today=today)


def _timeline(plan: Any, today: date) -> dict[str, Any]:
    """Bars for each phase over the plan's span, in percent; a phase whose end the text
    gets wrong is drawn to the span's end as uncertain, never to an invented date."""
    known = [d for p in plan.phases for d in (p.start_on, p.end_on) if d]
    if not known:
        return {"plan": plan, "rows": [], "today": None}
    first, last = min(known), max(known)
    if any(p.start_on is None for p in plan.phases):
        first -= timedelta(days=30)  # room for a phase the text gives only an end ("6月12日前")
    span = max((last - first).days, 1)

    def pct(day: date) -> float:
        return round(100 * (day - first).days / span, 2)

    rows = []
    for phase in plan.phases:
        start = phase.start_on or first
        end = phase.end_on or last
        rows.append({"phase": phase, "left": pct(start), "width": max(pct(end) - pct(start), 1.5),
                     "uncertain": phase.end_on is None, "open_start": phase.start_on is None})
    marker = pct(today) if first <= today <= last else None
    return {"plan": plan, "rows": rows, "today": marker, "first": first, "last": last}


class MoneyTrailView(ScopedPage):
    """资金审计: every money movement and every step of every money decision in the user's
    scope, with who did it and when (the audit trail), exportable (篇5 二(一)2(7))."""

    def is_accessible(self) -> bool:
        from models.kernel.access import may
        from models.funds import FundMovement

        return may(current_user, FundMovement.__admin__, "read")

    is_visible = is_accessible
    query_args = (Arg("start", "开始日期", "date"), Arg("end", "结束日期", "date"),
                  Arg("format", "格式", "choice", ("html", "csv")))

    @expose("/")
    def index(self) -> Any:
        from models.kernel.audit import AuditLog, entries_about

        from . import formatting
        from .engine.exports import csv_response

        args = read_args(self.query_args)
        models = money_models()
        start = args["start"] or now().date().replace(month=1, day=1)
        end = args["end"] or now().date()
        stmt = select(AuditLog).where(
            AuditLog.at >= datetime.combine(start, datetime.min.time()),
            AuditLog.at < datetime.combine(end + timedelta(days=1), datetime.min.time()),
            or_(*[entries_about(model, current_user) for model in models])).order_by(AuditLog.at, AuditLog.id)
        labels = {m.__tablename__: m for m in models}

        def rows() -> Any:
            for entry in db.session.scalars(stmt.execution_options(yield_per=500)):
                model = labels[entry.model]
                changes = "；".join(f"{label}：{old or '（空）'} → {new or '（空）'}"
                                   for label, old, new in formatting.describe_changes(model, entry.changes))
                yield [entry.at, entry.actor, entry.action.label, model.__admin__.label, entry.row_label,
                       entry.note or "", changes]

        headers = ["时间", "操作人", "类型", "对象类型", "记录", "说明", "变更内容"]
        if args["format"] == "csv":
            return csv_response(headers, rows(), f"资金审计_{start}_{end}.csv", f"money_trail_{start}_{end}.csv")
        return self.render("admin/money_trail.html", headers=headers, rows=list(rows()), start=start, end=end)


class ReportView(ScopedPage):
    """月度报告: one printable page for the leadership meeting, and the same as a PDF."""

    query_args = (Arg("month", "月份", "month"),)

    @expose("/")
    def index(self) -> Any:
        return self.render("print/report.html", **self._data(), pdf=False, printed_at=now())

    @expose("/pdf/")
    def pdf(self) -> Any:
        from flask import Response, render_template
        from weasyprint import CSS, HTML

        from .engine.exports import content_disposition

        data = self._data()
        html = render_template("print/report.html", **data, pdf=True, printed_at=now())
        css = CSS(filename=str(Path(current_app.static_folder) / "css" / "print.css"))
        document = HTML(string=html, base_url=request.host_url).write_pdf(stylesheets=[css])
        name = f"{data['month']:%Y年%m月}物业管理工作月报.pdf"
        return Response(document, mimetype="application/pdf", headers={
            "Content-Disposition": content_disposition(name, f"report_{data['month']:%Y%m}.pdf")})

    def _data(self) -> dict[str, Any]:
        from models.report import monthly_report

        month = read_args(self.query_args)["month"] or now().date().replace(day=1)
        data = monthly_report(current_user, month)
        data["late"] = [{"kind": d.model.__admin__.label, "record": str(d.row), "clock": d.clock.label,
                         "late": describe_gap(d.late)} for d in data["late"]]
        return data
