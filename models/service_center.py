"""Service-center work for old estates (篇5 二(一)4; 篇5 二(二)3–4).

Patrols (at least two a day in every estate under the center's care — days with fewer
are flagged by :func:`patrol_gaps`), drain and septic clearing, residents' archives
(住户档案), and the service agreements the center signs with owners' committees.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, DateTime, ForeignKey, Integer, Numeric, String, Text,
                        UniqueConstraint, func, select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, db, now
from .kernel.softdelete import SoftDeletable
from .repairs import TOLERANCE
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, field, relation
from .accounts import Role
from .estates import Estate, ManagementMode
from .governance import OrgKind

CENTER = (Role.STATION_STAFF, Role.STREET_STAFF)
# Estates in the center's care (篇5 二(二)3–4).
CENTER_MODES = (ManagementMode.OLD_CENTER, ManagementMode.AFFORDABLE)
PATROLS_PER_DAY = 2  # 篇5 二(一)4(7)：每天不少于两次在小区内巡逻


class Patrol(TimestampMixin, db.Model):
    __tablename__ = "patrol"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    patrolled_at: Mapped[datetime] = field(DateTime, "巡逻时间", default=now, index=True)
    patroller: Mapped[str] = field(String(60), "巡逻人")
    route: Mapped[str | None] = field(String(200), "巡逻路线/范围")
    findings: Mapped[str | None] = field(Text, "发现的问题")
    action_taken: Mapped[str | None] = field(Text, "处置及报告情况", help="遇突发事件采取必要措施并及时报告")

    estate: Mapped[Estate] = relation("小区")

    __admin__ = ModelAdmin(
        label="巡逻记录", category="案件办理", menu_order=40,
        list_columns=("patrolled_at", "estate.name", "patroller", "route", "findings"),
        search=("patroller", "findings", "route"), filters=("estate", "patrolled_at"),
        sort="-patrolled_at",
        form_columns=("estate", "patrolled_at", "patroller", "route", "findings", "action_taken"),
        perms=Perms(create=CENTER, edit=CENTER, delete=CENTER),
        station=OrgKind.SERVICE_CENTER,
        scope="estate_id",
        lookup=("patroller",),
    )

    def __str__(self) -> str:
        return f"{self.patrolled_at:%Y-%m-%d %H:%M} 巡逻" if self.patrolled_at else "巡逻"

    def clean(self) -> None:
        if self.patrolled_at and self.patrolled_at > now() + TOLERANCE:
            raise Invalid({"patrolled_at": "巡逻时间不能晚于现在（请在巡逻后记录）"})


def patrol_gaps(estate_ids: Any, start: date, end: date) -> list[tuple[int, date, int]]:
    """(estate id, day, patrols) for every day in [start, end] on which an estate in the
    center's care had fewer than two patrols. ``estate_ids`` is a list, a SELECT or
    ``None`` (every estate)."""
    from .kernel.scoping import among

    estates = db.session.scalars(select(Estate.id).where(
        among(Estate.id, estate_ids), Estate.management_mode.in_([m.value for m in CENTER_MODES]))).all()
    if not estates:
        return []
    day = func.date(Patrol.patrolled_at)
    counts = {(e, d if isinstance(d, date) else date.fromisoformat(d)): n for e, d, n in db.session.execute(
        select(Patrol.estate_id, day, func.count()).where(
            Patrol.estate_id.in_(estates),
            Patrol.patrolled_at >= datetime.combine(start, datetime.min.time()),
            Patrol.patrolled_at < datetime.combine(end + timedelta(days=1), datetime.min.time()))
        .group_by(Patrol.estate_id, day))}
    gaps = []
    current = start
    while current <= end:
        for estate in estates:
            n = counts.get((estate, current), 0)
            if n < PATROLS_PER_DAY:
                gaps.append((estate, current, n))
        current += timedelta(days=1)
    return gaps


class ClearingKind(Choices):
    DRAIN = "drain", "下水道疏通"
    SEPTIC = "septic", "化粪池清理"


class Clearing(TimestampMixin, db.Model):
    """篇5 二(一)4(6)：对下水道、化粪池适时组织疏通清理."""

    __tablename__ = "clearing"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    kind: Mapped[ClearingKind] = field(ChoiceType(ClearingKind), "类别")
    done_on: Mapped[date] = field(Date, "完成日期", index=True)
    done_by: Mapped[str | None] = field(String(60), "作业单位/人员")
    location: Mapped[str | None] = field(String(200), "位置")
    note: Mapped[str | None] = field(Text, "情况说明")

    estate: Mapped[Estate] = relation("小区")

    __admin__ = ModelAdmin(
        label="疏通清理记录", category="案件办理", menu_order=41,
        list_columns=("done_on", "estate.name", "kind", "done_by", "location"),
        search=("done_by", "location", "note"), filters=("kind", "estate", "done_on"), sort="-done_on",
        form_columns=("estate", "kind", "done_on", "done_by", "location", "note"),
        perms=Perms(create=CENTER, edit=CENTER, delete=CENTER),
        station=OrgKind.SERVICE_CENTER,
        scope="estate_id",
        lookup=("location",),
    )

    def __str__(self) -> str:
        return f"{self.done_on:%Y-%m-%d} {self.kind.label}" if self.done_on and self.kind else "疏通清理"

    def clean(self) -> None:
        if self.done_on and self.done_on > now().date():
            raise Invalid({"done_on": "完成日期不能晚于今天"})


class Household(SoftDeletable, TimestampMixin, db.Model):
    """住户档案 (篇5 二(一)4(4))."""

    __tablename__ = "household"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    building: Mapped[str] = field(String(20), "楼幢")
    unit: Mapped[str | None] = field(String(20), "单元")
    room: Mapped[str] = field(String(20), "房号")
    head: Mapped[str] = field(String(40), "户主")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    members: Mapped[int | None] = field(Integer, "在住人数", min=0, max=50)
    area: Mapped[Decimal | None] = field(Numeric(10, 2), "建筑面积（㎡）", min=0, max=10000)
    note: Mapped[str | None] = field(Text, "备注")

    estate: Mapped[Estate] = relation("小区")

    __table_args__ = (UniqueConstraint("estate_id", "building", "unit", "room"),)

    __admin__ = ModelAdmin(
        label="住户档案", category="小区与自治", importable=True, menu_order=50,
        # 低保户 is computed from the low-income records (models.funds), never typed
        list_columns=("estate.name", "building", "unit", "room", "head", "phone", "members", "is_low_income"),
        search=("head", "phone", "room"), filters=("estate", "is_low_income"), sort="estate_id",
        form_columns=("estate", "building", "unit", "room", "head", "phone", "members", "area", "note"),
        # the residents' archive is the service center's ledger (篇5 二(一)4(4)); the repair
        # and mediation stations' staff neither keep nor browse it
        perms=Perms.registry(Role.COMMUNITY_STAFF, Role.STATION_STAFF),
        station=OrgKind.SERVICE_CENTER,
        scope="estate_id",
        lookup=("head",),
    )

    def __str__(self) -> str:
        unit = f"{self.unit}单元" if self.unit else ""
        return f"{self.building}幢{unit}{self.room}室 {self.head or ''}".strip()


class CenterAgreement(TimestampMixin, db.Model):
    """服务委托合同: the owners' committee engages the service center (篇5 二(二)3)."""

    __tablename__ = "center_agreement"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    committee_id: Mapped[int | None] = field(ForeignKey("owners_committee.id"), "委托方业主委员会")
    signed_on: Mapped[date] = field(Date, "签订日期")
    start_on: Mapped[date] = field(Date, "起始日期")
    end_on: Mapped[date | None] = field(Date, "终止日期")
    services: Mapped[str | None] = field(Text, "服务内容", help="如：公共秩序、环境卫生、绿化、停车、装修管理")
    fee_standard: Mapped[str | None] = field(String(100), "收费标准", help="低标准收费，如：0.3 元/㎡·月")

    estate: Mapped[Estate] = relation("小区")
    committee: Mapped["OwnersCommittee | None"] = relation("委托方业主委员会")  # noqa: F821

    __admin__ = ModelAdmin(
        label="服务中心委托合同", category="小区与自治", menu_order=25,
        list_columns=("estate.name", "committee", "signed_on", "start_on", "end_on", "fee_standard"),
        search=("services", "fee_standard"), filters=("estate", "start_on", "end_on"), sort="-signed_on",
        form_columns=("estate", "committee", "signed_on", "start_on", "end_on", "services", "fee_standard"),
        perms=Perms.registry(),
        scope="estate_id",
        lookup=("fee_standard",),
    )

    def __str__(self) -> str:
        return f"服务委托合同（{self.signed_on:%Y-%m-%d}）" if self.signed_on else "服务委托合同"

    def clean(self) -> None:
        if self.start_on and self.end_on and self.end_on < self.start_on:
            raise Invalid({"end_on": "终止日期不能早于起始日期"})
        if self.committee is not None and self.estate is not None and self.committee.estate_id != self.estate.id:
            raise Invalid({"committee": "该业主委员会不属于所选小区"})
