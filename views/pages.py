"""Pages across models, for the user's scope: what is late now, and the standing
against the indicators (the casework rates included)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select

from models import db, now
from models.deadlines import open_deadlines
from models.estates import Estate
from models.governance import Community
from models.scoping import scope_clause
from models.service_center import patrol_gaps
from models.standing import cleaning_shortfalls, standing

from .workflow import describe_gap


class ScopedPage(BaseView):
    """A page any logged-in user may open; what it shows is limited to their scope."""

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
    @expose("/")
    def index(self) -> Any:
        estates = {e.id: e for e in self.estates()}
        community_id = request.args.get("community", type=int)
        chosen = [e.id for e in estates.values() if community_id in (None, e.community_id)]
        rows = []
        for d in open_deadlines(current_user, chosen if community_id else None):
            estate = estates.get(d.estate_id)
            rows.append({
                "kind": d.model.__admin__.label, "record": str(d.row), "clock": d.clock.label,
                "due": d.due, "late": describe_gap(d.late) if d.late else None,
                "left": describe_gap(d.left) if d.left is not None else None,
                "estate": estate.name if estate else "", "community": estate.community.name if estate else "",
                "url": url_for(f"{d.model.__tablename__}.details_view", id=d.row.id),
            })
        yesterday = now().date() - timedelta(days=1)
        gaps = [{"estate": estates[e].name, "community": estates[e].community.name, "day": day, "count": n}
                for e, day, n in patrol_gaps(chosen, yesterday - timedelta(days=6), yesterday)]
        return self.render("admin/late.html", rows=rows, gaps=gaps, communities=self.communities(),
                           community_id=community_id)


class StandingView(ScopedPage):
    @expose("/")
    def index(self) -> Any:
        estates = self.estates()
        communities = self.communities()
        today = now().date()
        start = _date(request.args.get("start")) or today.replace(month=1, day=1)
        end = _date(request.args.get("end")) or today
        month = _date((request.args.get("month") or "") + "-01") or today.replace(day=1)
        level, key = request.args.get("level", "all"), request.args.get("key", type=int)
        if level == "estate":
            chosen = [e.id for e in estates if e.id == key]
        elif level == "community":
            chosen = [e.id for e in estates if e.community_id == key]
        else:
            level, chosen = "all", [e.id for e in estates]
        error = "开始日期不能晚于结束日期" if start > end else None
        rows = [] if error else standing(chosen, start, end)
        names = {e.id: e for e in estates}
        shortfalls = [(names[e], n) for e, n in cleaning_shortfalls(chosen, month)]
        return self.render("admin/standing.html", rows=rows, estates=estates, communities=communities,
                           start=start, end=end, month=month, level=level, key=key, error=error,
                           estate_count=len(chosen), shortfalls=shortfalls)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
