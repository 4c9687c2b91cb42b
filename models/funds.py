"""Funds: the special maintenance fund, subsidies, collect-then-refund for low-income
households, and fees due and paid (篇5 二(一)1(1), 二(一)2(2)(5)(6)(7)).

Every amount is positive with at most two decimals. A fund's balance is the sum of
its movements — never typed — and no movement may take it below zero. Money moves
only through recorded steps (a paid application writes its own withdrawal), and
movements are never edited or deleted: a mistake is corrected by another entry.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint,
                        case, exists, func, select)
from sqlalchemy import event, true
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from . import AppSession, TimestampMixin, db, now
from .declare import (ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, Role, Upload, field,
                      figure, relation)
from .estates import Estate, _today
from .governance import OrgUnit
from .selfgov import Matter, Resolution
from .service_center import Household
from .workflow import Clock, Param, Transition, Workflow, days_after

MONEY_KEEPERS = (Role.STREET_STAFF,)
FUND_PERMS = Perms(create=MONEY_KEEPERS, edit=MONEY_KEEPERS, delete=())  # money is never deleted
LEDGER_PERMS = Perms(create=MONEY_KEEPERS, edit=(), delete=())           # nor edited once entered


def money(label: str, **kwargs: Any):
    return field(Numeric(14, 2), label, money=True, **kwargs)


# -- the special maintenance fund ------------------------------------------------------


class MaintenanceFund(TimestampMixin, db.Model):
    """专项维修资金账户, one per estate."""

    __tablename__ = "maintenance_fund"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", unique=True)
    account_no: Mapped[str | None] = field(String(40), "账号")
    bank: Mapped[str | None] = field(String(60), "开户银行")
    opened_on: Mapped[date | None] = field(Date, "建账日期")
    note: Mapped[str | None] = field(Text, "备注")

    estate: Mapped[Estate] = relation("小区")
    movements: Mapped[list["FundMovement"]] = relation(
        "资金流水", back_populates="fund", order_by="FundMovement.occurred_on")

    __admin__ = ModelAdmin(
        label="维修资金账户", category="资金管理", menu_order=10,
        list_columns=("estate.name", "account_no", "bank", "balance"),
        search=("account_no", "bank"), filters=("estate",), sort="estate_id",
        form_columns=("estate", "account_no", "bank", "opened_on", "note"),
        details_columns=("estate", "account_no", "bank", "opened_on", "balance", "movements", "note"),
        perms=FUND_PERMS, scope="estate_id",
        lookup=("estate_name", "account_no"),  # found by its estate, or its number
    )

    def __str__(self) -> str:
        return f"{self.estate_name or ''}维修资金"

    def current_balance(self, lock: bool = False) -> Decimal:
        """The balance from the movements; ``lock`` holds the account row until commit
        (PostgreSQL), so two payments cannot both spend the same money."""
        if lock:
            db.session.execute(select(MaintenanceFund.id).where(MaintenanceFund.id == self.id).with_for_update())
        return db.session.scalar(select(_signed_sum()).where(FundMovement.fund_id == self.id)) or Decimal("0")

    def clean(self) -> None:
        # an account that holds money or has applications belongs to its estate's owners
        if "estate" in changed_fields(self, ("estate",)) and (
                db.session.scalar(select(exists().where(FundMovement.fund_id == self.id)))
                or db.session.scalar(select(exists().where(FundApplication.fund_id == self.id)))):
            raise Invalid({"estate": "该账户已有资金流水或使用申请，不能改为其他小区的账户"})


class MovementKind(Choices):
    TOP_UP = "top_up", "缴存/续筹"
    INTEREST = "interest", "利息"
    WITHDRAWAL = "withdrawal", "支取"
    CORRECTION_IN = "correction_in", "更正（调增）"
    CORRECTION_OUT = "correction_out", "更正（调减）"


OUTFLOWS = (MovementKind.WITHDRAWAL, MovementKind.CORRECTION_OUT)


class FundMovement(TimestampMixin, db.Model):
    """资金流水: money into or out of a fund. Withdrawals are written by paying an application."""

    __tablename__ = "fund_movement"
    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = field(ForeignKey("maintenance_fund.id"), "维修资金账户", index=True)
    kind: Mapped[MovementKind] = field(ChoiceType(MovementKind), "类别")
    amount: Mapped[Decimal] = money("金额（元）")
    occurred_on: Mapped[date] = field(Date, "日期", index=True)
    application_id: Mapped[int | None] = field(ForeignKey("fund_application.id"), "使用申请", index=True)
    note: Mapped[str | None] = field(Text, "摘要")

    fund: Mapped[MaintenanceFund] = relation("维修资金账户", back_populates="movements")
    application: Mapped["FundApplication | None"] = relation("使用申请")

    __admin__ = ModelAdmin(
        label="维修资金流水", category="资金管理", menu_order=11,
        list_columns=("occurred_on", "fund", "kind", "amount", "application", "note"),
        search=("note",), filters=("kind", "fund", "occurred_on"), sort="-occurred_on",
        form_columns=("fund", "kind", "amount", "occurred_on", "note"),
        perms=LEDGER_PERMS, scope="fund.estate_id",
        lookup=("note",),
    )

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.kind.label if self.kind else ''} {self.amount}元"

    def clean(self) -> None:
        if self.kind == MovementKind.WITHDRAWAL and self.application is None:
            raise Invalid({"kind": "支取只能通过维修资金使用申请的「拨付」完成"})
        if self.occurred_on and self.occurred_on > now().date():
            raise Invalid({"occurred_on": "日期不能晚于今天"})
        if self.kind in OUTFLOWS and self.fund is not None and self.amount is not None:
            balance = self.fund.current_balance(lock=True)
            if self.amount > balance:
                raise Invalid({"amount": f"超过账户余额（当前余额 {balance} 元），余额不能为负"})


def _signed_sum() -> Any:
    return func.coalesce(func.sum(case((FundMovement.kind.in_([k.value for k in OUTFLOWS]),
                                        -FundMovement.amount), else_=FundMovement.amount)), 0)


MaintenanceFund.balance = figure("余额（元）", select(_signed_sum()).where(
    FundMovement.fund_id == MaintenanceFund.id).correlate_except(FundMovement))
MaintenanceFund.estate_name = figure("小区", select(Estate.name).where(
    Estate.id == MaintenanceFund.estate_id).correlate_except(Estate), internal=True)


class Proposer(Choices):
    COMPANY = "company", "物业服务企业"
    COMMITTEE = "committee", "业主委员会"


class ApplicationState(Choices):
    PROPOSED = "proposed", "已申请"
    OWNERS_APPROVED = "owners_approved", "业主已表决同意"
    EMERGENCY = "emergency", "紧急维修（不经表决）"
    APPROVED = "approved", "街道审核同意"
    REJECTED = "rejected", "街道审核不同意"
    WORK_DONE = "work_done", "工程已完工"
    PAYMENT_APPLIED = "payment_applied", "已申请拨付"
    PAID = "paid", "已拨付"


A = ApplicationState

# What each step writes, and the (previous) states in which it may still change. Once
# an application has left 已申请, the owners' vote and the street's review rest on its
# fund, item and amount: no edit form, import or action may change them afterwards.
PROPOSAL_FIELDS = ("fund", "item", "description", "proposer", "proposer_name", "amount", "quotes",
                   "proposed_on", "repair_ticket", "resolution", "emergency_reason")
WRITABLE_WHILE = {
    **dict.fromkeys(PROPOSAL_FIELDS, (A.PROPOSED,)),
    **dict.fromkeys(("review_opinion", "approved_amount", "reviewed_on"), (A.OWNERS_APPROVED, A.EMERGENCY)),
    "work_done_on": (A.APPROVED,),
    "payment_applied_on": (A.WORK_DONE,),
    "paid_on": (A.PAYMENT_APPLIED,),
}


class FundApplication(TimestampMixin, db.Model):
    """维修资金使用申请: proposed → owners' approval (a major-matter resolution that carried,
    Civil Code art. 278) or the emergency path → street review → work done → payment
    applied → paid (writes the withdrawal)."""

    __tablename__ = "fund_application"
    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = field(ForeignKey("maintenance_fund.id"), "维修资金账户", index=True)
    item: Mapped[str] = field(String(200), "维修项目")
    description: Mapped[str | None] = field(Text, "维修内容")
    proposer: Mapped[Proposer] = field(ChoiceType(Proposer), "申请方")
    proposer_name: Mapped[str | None] = field(String(100), "申请单位")
    amount: Mapped[Decimal] = money("申请金额（元）")
    quotes: Mapped[str | None] = field(Text, "报价情况", help="几家报价、各多少")
    proposed_on: Mapped[date] = field(Date, "申请日期")
    state: Mapped[ApplicationState] = field(ChoiceType(ApplicationState), "状态", default=A.PROPOSED, index=True)
    resolution_id: Mapped[int | None] = field(ForeignKey("resolution.id"), "业主大会表决事项")
    emergency_reason: Mapped[str | None] = field(Text, "紧急维修理由")
    repair_ticket_id: Mapped[int | None] = field(ForeignKey("repair_ticket.id"), "来源报修单",
                                                 help="应急维修站转来的共用部位维修")
    review_opinion: Mapped[str | None] = field(Text, "街道审核意见")
    approved_amount: Mapped[Decimal | None] = money("核准金额（元）")
    reviewed_on: Mapped[date | None] = field(Date, "审核日期")
    work_done_on: Mapped[date | None] = field(Date, "完工日期")
    payment_applied_on: Mapped[date | None] = field(Date, "申请拨付日期")
    paid_on: Mapped[date | None] = field(Date, "拨付日期")

    fund: Mapped[MaintenanceFund] = relation("维修资金账户")
    resolution: Mapped[Resolution | None] = relation("业主大会表决事项")
    repair_ticket: Mapped["RepairTicket | None"] = relation("来源报修单")  # noqa: F821

    __admin__ = ModelAdmin(
        label="维修资金使用申请", category="资金管理", menu_order=20,
        list_columns=("proposed_on", "fund", "item", "amount", "approved_amount", "state"),
        search=("item", "proposer_name", "description"), filters=("state", "proposer", "fund", "proposed_on"),
        sort="-proposed_on",
        form_columns=("fund", "item", "description", "proposer", "proposer_name", "amount", "quotes",
                      "proposed_on", "repair_ticket"),
        details_columns=("fund", "item", "description", "proposer", "proposer_name", "amount", "quotes",
                         "proposed_on", "state", "resolution", "emergency_reason", "repair_ticket",
                         "review_opinion", "approved_amount", "reviewed_on", "work_done_on",
                         "payment_applied_on", "paid_on"),
        perms=Perms(create=(Role.STREET_STAFF, Role.COMMUNITY_STAFF, Role.COMMITTEE_MEMBER),
                    edit=(Role.STREET_STAFF,), delete=()),
        scope="fund.estate_id",
        lookup=("item",),
        workflow=Workflow(transitions=(
            Transition("owners_approve", "业主大会表决同意", source=(A.PROPOSED,), target=A.OWNERS_APPROVED,
                       roles=(Role.STREET_STAFF, Role.COMMUNITY_STAFF), guard="guard_owners",
                       params=(Param("resolution", "表决事项", "row", model=Resolution),)),
            Transition("emergency", "紧急维修（不经业主表决）", source=(A.PROPOSED,), target=A.EMERGENCY,
                       roles=MONEY_KEEPERS, style="warning",
                       params=(Param("emergency_reason", "理由", "textarea",
                                     help="仅限危及安全的共用部位紧急维修；理由记入记录"),)),
            Transition("review", "街道审核同意", source=(A.OWNERS_APPROVED, A.EMERGENCY), target=A.APPROVED,
                       roles=MONEY_KEEPERS, guard="guard_review", style="success",
                       params=(Param("review_opinion", "审核意见", "textarea"),
                               Param("approved_amount", "核准金额（元）", "decimal",
                                     default=lambda a: a.amount),
                               Param("reviewed_on", "审核日期", "date"))),
            Transition("reject", "街道审核不同意", source=(A.OWNERS_APPROVED, A.EMERGENCY), target=A.REJECTED,
                       roles=MONEY_KEEPERS, style="secondary",
                       params=(Param("review_opinion", "不同意的理由", "textarea"),
                               Param("reviewed_on", "审核日期", "date"))),
            Transition("work_done", "工程完工", source=(A.APPROVED,), target=A.WORK_DONE, roles=MONEY_KEEPERS,
                       params=(Param("work_done_on", "完工日期", "date"),)),
            Transition("apply_payment", "申请拨付", source=(A.WORK_DONE,), target=A.PAYMENT_APPLIED,
                       roles=MONEY_KEEPERS, params=(Param("payment_applied_on", "申请日期", "date"),)),
            Transition("pay", "拨付", source=(A.PAYMENT_APPLIED,), target=A.PAID, roles=MONEY_KEEPERS,
                       style="success", params=(Param("paid_on", "拨付日期", "date"),)),
        )),
    )

    def __str__(self) -> str:
        return self.item or "维修资金使用申请"

    # guards: a carried major-matter resolution of this estate, or the emergency path
    def _resolution_problem(self, resolution: Resolution | None) -> str | None:
        if resolution is None:
            return "须关联业主大会的表决事项（或走紧急维修程序）"
        if resolution.matter != Matter.MAJOR:
            return "使用维修资金属于重大事项，所选表决事项不是重大事项"
        if not resolution.carried:
            return "所选表决事项未获通过（须参与表决面积和人数均达四分之三以上同意）"
        if resolution.meeting.estate_id != self.fund.estate_id:
            return "所选表决事项不是本小区业主大会的"
        return None

    def guard_owners(self, resolution: Resolution | None = None) -> str | None:
        return self._resolution_problem(resolution)

    def guard_review(self, approved_amount: Decimal | None = None) -> str | None:
        if self.state == A.EMERGENCY:
            return None if (self.emergency_reason or "").strip() else "紧急维修须写明理由"
        return self._resolution_problem(self.resolution)

    # effects
    def owners_approve(self, resolution: Resolution) -> None:
        self.resolution = resolution

    def emergency(self, emergency_reason: str) -> None:
        self.emergency_reason = emergency_reason

    def review(self, review_opinion: str, approved_amount: Decimal, reviewed_on: date) -> None:
        if approved_amount is not None and self.amount is not None and approved_amount > self.amount:
            raise Invalid({"approved_amount": f"核准金额不能超过申请金额（{self.amount} 元）"})
        balance = self.fund.current_balance()
        if approved_amount is not None and approved_amount > balance:
            raise Invalid({"approved_amount": f"核准金额超过账户余额（当前余额 {balance} 元）"})
        self.review_opinion, self.approved_amount, self.reviewed_on = review_opinion, approved_amount, reviewed_on

    def reject(self, review_opinion: str, reviewed_on: date) -> None:
        self.review_opinion, self.reviewed_on = review_opinion, reviewed_on

    def work_done(self, work_done_on: date) -> None:
        self.work_done_on = work_done_on

    def apply_payment(self, payment_applied_on: date) -> None:
        self.payment_applied_on = payment_applied_on

    def pay(self, paid_on: date) -> None:
        """Paying writes the withdrawal; its own rule keeps the balance from going negative."""
        self.paid_on = paid_on
        db.session.add(FundMovement(fund=self.fund, kind=MovementKind.WITHDRAWAL, amount=self.approved_amount,
                                    occurred_on=paid_on, application=self, note=f"拨付：{self.item}"))

    def clean(self) -> None:
        today = now().date()
        errors: dict[str, str] = {}
        before = previous_value(self, "state") or A.PROPOSED
        for name in changed_fields(self, WRITABLE_WHILE):
            if before not in WRITABLE_WHILE[name]:
                errors[name] = f"申请已是「{ApplicationState(before).label}」，此项不能再修改"
        if self.resolution is not None and self.fund is not None \
                and self.resolution.meeting.estate_id != self.fund.estate_id:
            errors["resolution"] = "所选表决事项不是本小区业主大会的"
        if self.approved_amount is not None and self.amount is not None and self.approved_amount > self.amount:
            errors["approved_amount"] = f"核准金额不能超过申请金额（{self.amount} 元）"
        order = [("proposed_on", "申请日期"), ("reviewed_on", "审核日期"), ("work_done_on", "完工日期"),
                 ("payment_applied_on", "申请拨付日期"), ("paid_on", "拨付日期")]
        for name, label in order:
            value = getattr(self, name)
            if value and value > today:
                errors[name] = f"{label}不能晚于今天"
        for (a, la), (b, lb) in zip(order, order[1:]):
            if getattr(self, a) and getattr(self, b) and getattr(self, b) < getattr(self, a):
                errors[b] = f"{lb}不能早于{la}"
        if errors:
            raise Invalid(errors)


# -- subsidies -----------------------------------------------------------------------


class SubsidyRecipient(Choices):
    ESTATE = "estate", "小区"
    CENTER = "center", "物业管理服务中心"


class Subsidy(TimestampMixin, db.Model):
    """财政所的补贴: allocated, paid, and its use reported back (篇5 二(一)2(2))."""

    __tablename__ = "subsidy"
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[SubsidyRecipient] = field(ChoiceType(SubsidyRecipient), "补贴对象")
    estate_id: Mapped[int | None] = field(ForeignKey("estate.id"), "小区", index=True)
    unit_id: Mapped[int | None] = field(ForeignKey("org_unit.id"), "服务中心", index=True)
    purpose: Mapped[str] = field(String(200), "用途")
    amount: Mapped[Decimal] = money("补贴金额（元）")
    allocated_on: Mapped[date] = field(Date, "下达日期", index=True)
    approver: Mapped[str] = field(String(60), "批准人")
    use_report: Mapped[str | None] = field(Text, "使用情况报告")
    reported_on: Mapped[date | None] = field(Date, "报告日期")

    estate: Mapped[Estate | None] = relation("小区")
    unit: Mapped[OrgUnit | None] = relation("服务中心")
    payments: Mapped[list["SubsidyPayment"]] = relation(
        "拨付记录", back_populates="subsidy", order_by="SubsidyPayment.paid_on")

    __admin__ = ModelAdmin(
        label="补贴", category="资金管理", menu_order=30,
        list_columns=("allocated_on", "year", "recipient", "recipient_name", "purpose", "amount", "paid_total",
                      "reported_on"),
        search=("purpose", "approver"), filters=("recipient", "estate", "year", "allocated_on"),
        sort="-allocated_on",
        form_columns=("recipient", "estate", "unit", "purpose", "amount", "allocated_on", "approver",
                      "use_report", "reported_on"),
        details_columns=("recipient", "estate", "unit", "purpose", "amount", "allocated_on", "approver",
                         "payments", "paid_total", "use_report", "reported_on"),
        perms=FUND_PERMS, scope=("estate_id", "unit.street_id"),
        lookup=("purpose",),
        view="views.funds.SubsidyView",  # the list adds totals per year and recipient
    )

    def __str__(self) -> str:
        return f"{self.allocated_on} {self.purpose or ''}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.recipient == SubsidyRecipient.ESTATE and self.estate is None:
            errors["estate"] = "补贴对象为小区时须选择小区"
        if self.recipient == SubsidyRecipient.CENTER:
            if self.unit is None or self.unit.kind.value != "service_center":
                errors["unit"] = "补贴对象为服务中心时须选择物业管理服务中心"
        if self.recipient == SubsidyRecipient.CENTER and self.estate is not None:
            errors["estate"] = "补贴服务中心时不选小区"
        if self.reported_on and self.allocated_on and self.reported_on < self.allocated_on:
            errors["reported_on"] = "报告日期不能早于下达日期"
        for name, label in (("allocated_on", "下达日期"), ("reported_on", "报告日期")):
            if getattr(self, name) and getattr(self, name) > now().date():
                errors[name] = f"{label}不能晚于今天"
        if errors:
            raise Invalid(errors)


class SubsidyPayment(TimestampMixin, db.Model):
    __tablename__ = "subsidy_payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    subsidy_id: Mapped[int] = field(ForeignKey("subsidy.id"), "补贴", index=True)
    amount: Mapped[Decimal] = money("拨付金额（元）")
    paid_on: Mapped[date] = field(Date, "拨付日期")
    note: Mapped[str | None] = field(String(200), "摘要")

    subsidy: Mapped[Subsidy] = relation("补贴", back_populates="payments")

    __admin__ = ModelAdmin(
        label="补贴拨付", category="资金管理", menu_order=31,
        list_columns=("paid_on", "subsidy", "amount", "note"), search=("note",),
        filters=("paid_on",), sort="-paid_on",
        form_columns=("subsidy", "amount", "paid_on", "note"),
        perms=LEDGER_PERMS, scope=("subsidy.estate_id", "subsidy.unit.street_id"),
        lookup=("note",),
    )

    def __str__(self) -> str:
        return f"{self.paid_on} 拨付 {self.amount}元"

    def clean(self) -> None:
        if self.subsidy is not None and self.amount is not None:
            paid = sum((p.amount for p in self.subsidy.payments if p is not self and p.amount), Decimal("0"))
            if paid + self.amount > self.subsidy.amount:
                raise Invalid({"amount": f"累计拨付将超过补贴金额（已拨 {paid} 元，补贴 {self.subsidy.amount} 元）"})
            if self.paid_on and self.subsidy.allocated_on and self.paid_on < self.subsidy.allocated_on:
                raise Invalid({"paid_on": "拨付日期不能早于补贴下达日期"})
        if self.paid_on and self.paid_on > now().date():
            raise Invalid({"paid_on": "拨付日期不能晚于今天"})


Subsidy.paid_total = figure("已拨付（元）", select(func.coalesce(func.sum(SubsidyPayment.amount), 0)).where(
    SubsidyPayment.subsidy_id == Subsidy.id).correlate_except(SubsidyPayment))
Subsidy.year = figure("年度", func.cast(func.extract("year", Subsidy.allocated_on), Integer))
Subsidy.recipient_name = figure("对象名称", func.coalesce(
    select(Estate.name).where(Estate.id == Subsidy.estate_id).correlate_except(Estate).scalar_subquery(),
    select(OrgUnit.name).where(OrgUnit.id == Subsidy.unit_id).correlate_except(OrgUnit).scalar_subquery()))



def subsidy_totals(subsidy_ids: Any) -> dict[str, Any]:
    """补贴汇总 for the subsidies ``subsidy_ids`` selects (a list's search, filters and
    scope): allocated and paid per year and recipient, each year's subtotal, the total."""
    paid = (select(SubsidyPayment.subsidy_id, func.sum(SubsidyPayment.amount).label("paid"))
            .group_by(SubsidyPayment.subsidy_id).subquery())
    chosen = (select(Subsidy.year.label("year"), Subsidy.estate_id, Subsidy.unit_id, Subsidy.amount,
                     func.coalesce(paid.c.paid, 0).label("paid"))
              .outerjoin(paid, paid.c.subsidy_id == Subsidy.id).where(Subsidy.id.in_(subsidy_ids)).subquery())
    rows = db.session.execute(
        select(chosen.c.year, func.coalesce(Estate.name, OrgUnit.name).label("recipient"),
               func.count().label("count"), func.sum(chosen.c.amount).label("allocated"),
               func.sum(chosen.c.paid).label("paid"))
        .outerjoin(Estate, Estate.id == chosen.c.estate_id).outerjoin(OrgUnit, OrgUnit.id == chosen.c.unit_id)
        .group_by(chosen.c.year, chosen.c.estate_id, chosen.c.unit_id, Estate.name, OrgUnit.name)
        .order_by(chosen.c.year.desc(), func.coalesce(Estate.name, OrgUnit.name))).all()

    def tally(items: list[dict[str, Any]]) -> dict[str, Any]:
        allocated = sum((i["allocated"] for i in items), Decimal("0"))
        paid_ = sum((i["paid"] for i in items), Decimal("0"))
        return {"count": sum(i["count"] for i in items), "allocated": allocated, "paid": paid_,
                "unpaid": allocated - paid_}

    years: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        allocated, paid_ = Decimal(r.allocated), Decimal(r.paid)
        years.setdefault(r.year, []).append({"recipient": r.recipient, "count": r.count, "allocated": allocated,
                                             "paid": paid_, "unpaid": allocated - paid_})
    per_year = [{"year": y, "rows": items, **tally(items)} for y, items in years.items()]
    return {"years": per_year, "total": tally([i for y in per_year for i in y["rows"]])}

# -- collect then refund, for low-income households (先征后返) ------------------------------


class LowIncomeStatus(TimestampMixin, db.Model):
    """低保: a household of the residents' archive, with proof and validity."""

    __tablename__ = "low_income_status"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = field(ForeignKey("household.id"), "住户", index=True)
    certificate_no: Mapped[str] = field(String(40), "低保证号")
    valid_from: Mapped[date] = field(Date, "有效期起")
    valid_to: Mapped[date] = field(Date, "有效期止")
    proof: Mapped[str | None] = field(String(200), "证明材料", upload=Upload(
        types=("pdf", "jpg", "jpeg", "png"), max_bytes=5 * 1024 * 1024, folder="proofs"))

    household: Mapped[Household] = relation("住户")

    __admin__ = ModelAdmin(
        label="低保认定", category="资金管理", menu_order=40,
        list_columns=("household", "certificate_no", "valid_from", "valid_to", "proof"),
        search=("certificate_no",), filters=("valid_to",), sort="-valid_to",
        form_columns=("household", "certificate_no", "valid_from", "valid_to", "proof"),
        perms=Perms(create=(Role.STREET_STAFF, Role.COMMUNITY_STAFF), edit=(Role.STREET_STAFF, Role.COMMUNITY_STAFF),
                    delete=()),
        scope="household.estate_id",
        lookup=("certificate_no",),
    )

    def __str__(self) -> str:
        return f"低保 {self.certificate_no}（{self.valid_from}—{self.valid_to}）"

    def clean(self) -> None:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise Invalid({"valid_to": "有效期止不能早于有效期起"})
        if changed_fields(self, ("household", "valid_from", "valid_to")):
            self._keep_collections_covered()

    def _keep_collections_covered(self) -> None:
        """A fee collected to be refunded (先征后返) needed the household to be low-income
        on that day: a change may not leave such a collection outside every validity."""
        household = previous_value(self, "household_id")
        start, end = previous_value(self, "valid_from"), previous_value(self, "valid_to")
        if None in (household, start, end, self.valid_from, self.valid_to):
            return
        other = exists().where(LowIncomeStatus.household_id == FeeRefund.household_id, LowIncomeStatus.id != self.id,
                               LowIncomeStatus.valid_from <= FeeRefund.collected_on,
                               LowIncomeStatus.valid_to >= FeeRefund.collected_on)
        stmt = select(FeeRefund).where(FeeRefund.household_id == household,
                                       FeeRefund.collected_on.between(start, end), ~other)
        same_household = (self.household.id if self.household is not None else self.household_id) == household
        if same_household:
            stmt = stmt.where(~FeeRefund.collected_on.between(self.valid_from, self.valid_to))
        stranded = db.session.scalars(stmt.order_by(FeeRefund.collected_on)).first()
        if stranded is None:
            return
        day = stranded.collected_on
        what = f"该住户 {day} 收取的物业费（{stranded.period}）按先征后返办理，须在低保有效期内"
        if not same_household:
            raise Invalid({"household": f"{what}，不能改为其他住户"})
        if day > self.valid_to:
            raise Invalid({"valid_to": f"{what}，有效期止不能早于 {day}"})
        raise Invalid({"valid_from": f"{what}，有效期起不能晚于 {day}"})


REFUND_DAYS = 30  # 先征后返: refunded within a month of collection


class RefundState(Choices):
    DUE = "due", "待返还"
    REFUNDED = "refunded", "已返还"


REFUND = Clock("refund", "返还期限", start="collected_on", due="refund_due_on", stop="refunded_on",
               rule=days_after(REFUND_DAYS), states=(RefundState.DUE,))


class FeeRefund(TimestampMixin, db.Model):
    """先征后返: a low-income household's property fee, collected, then refunded."""

    __tablename__ = "fee_refund"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = field(ForeignKey("household.id"), "住户", index=True)
    period: Mapped[str] = field(String(40), "缴费期间", help="如：2026年上半年")
    collected: Mapped[Decimal] = money("收取金额（元）")
    collected_on: Mapped[date] = field(Date, "收取日期")
    refund: Mapped[Decimal] = money("应返还金额（元）")
    refund_due_on: Mapped[date | None] = field(Date, "返还期限")
    state: Mapped[RefundState] = field(ChoiceType(RefundState), "状态", default=RefundState.DUE, index=True)
    refunded_on: Mapped[date | None] = field(Date, "返还日期")

    household: Mapped[Household] = relation("住户")

    overdue = REFUND.flag("逾期未返还")

    __admin__ = ModelAdmin(
        label="先征后返", category="资金管理", menu_order=41,
        list_columns=("household", "period", "collected", "collected_on", "refund", "refund_due_on", "state",
                      "overdue"),
        search=("period",), filters=("state", "overdue", "collected_on"), sort="-collected_on",
        form_columns=("household", "period", "collected", "collected_on", "refund"),
        perms=Perms(create=MONEY_KEEPERS, edit=MONEY_KEEPERS, delete=()),
        scope="household.estate_id",
        lookup=("period",),
        workflow=Workflow(transitions=(
            Transition("pay_refund", "返还", source=(RefundState.DUE,), target=RefundState.REFUNDED,
                       roles=MONEY_KEEPERS, style="success", params=(Param("refunded_on", "返还日期", "date"),)),
        ), clocks=(REFUND,)),
    )

    def __str__(self) -> str:
        return f"{self.period} 先征后返"

    def pay_refund(self, refunded_on: date) -> None:
        self.refunded_on = refunded_on

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.household is not None and self.collected_on is not None:
            valid = db.session.scalar(select(exists().where(
                LowIncomeStatus.household_id == self.household.id, LowIncomeStatus.valid_from <= self.collected_on,
                LowIncomeStatus.valid_to >= self.collected_on)))
            if not valid:
                errors["household"] = f"该住户在收取日期（{self.collected_on}）不是有效的低保户，不能先征后返"
        if self.refund is not None and self.collected is not None and self.refund > self.collected:
            errors["refund"] = "返还金额不能超过收取金额"
        for name, label in (("collected_on", "收取日期"), ("refunded_on", "返还日期")):
            if getattr(self, name) and getattr(self, name) > now().date():
                errors[name] = f"{label}不能晚于今天"
        if self.refunded_on and self.collected_on and self.refunded_on < self.collected_on:
            errors["refunded_on"] = "返还日期不能早于收取日期"
        if errors:
            raise Invalid(errors)


Household.is_low_income = figure("低保户", exists().where(
    LowIncomeStatus.household_id == Household.id,
    LowIncomeStatus.valid_from <= _today(), LowIncomeStatus.valid_to >= _today())
    .correlate_except(LowIncomeStatus), flag=True)


# -- fees due and paid (管理费收缴率) ------------------------------------------------------


class PayerKind(Choices):
    HOUSEHOLDS = "households", "住户（合计）"
    SCHOOL = "school", "学校"
    KINDERGARTEN = "kindergarten", "幼儿园"
    BUSINESS = "business", "商户"
    OTHER = "other", "其他"


class FeeBill(TimestampMixin, db.Model):
    """应收物业管理费 of one payer for one year (综合科 gets schools and kindergartens to
    pay theirs, 篇5 二(一)2(6))."""

    __tablename__ = "fee_bill"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    payer_kind: Mapped[PayerKind] = field(ChoiceType(PayerKind), "缴费方类别")
    payer_name: Mapped[str] = field(String(100), "缴费方")
    year: Mapped[int] = field(Integer, "年度", min=2000, max=2100, index=True)
    due: Mapped[Decimal] = money("应收（元）")
    paid: Mapped[Decimal] = field(Numeric(14, 2), "实收（元）", default=0, min=0, max=100_000_000)
    note: Mapped[str | None] = field(Text, "备注")

    estate: Mapped[Estate] = relation("小区")

    __table_args__ = (UniqueConstraint("estate_id", "payer_name", "year"),)

    __admin__ = ModelAdmin(
        label="物业费收缴", category="资金管理", importable=True, menu_order=50,
        list_columns=("year", "estate.name", "payer_kind", "payer_name", "due", "paid", "owing"),
        search=("payer_name",), filters=("year", "payer_kind", "estate"), sort=("-year", "estate_id"),
        form_columns=("estate", "year", "payer_kind", "payer_name", "due", "paid", "note"),
        perms=FUND_PERMS, scope="estate_id",  # corrected by editing, never deleted
        lookup=("payer_name",),
    )

    def __str__(self) -> str:
        return f"{self.year}年 {self.payer_name}"

    def clean(self) -> None:
        if self.paid is not None and self.paid != self.paid.quantize(Decimal("0.01")):
            raise Invalid({"paid": "金额最多保留两位小数（精确到分）"})
        if self.paid is not None and self.due is not None and self.paid > self.due:
            raise Invalid({"paid": f"实收不能超过应收（{self.due} 元）；预收请记入下一年度"})


FeeBill.owing = figure("欠缴（元）", FeeBill.due - FeeBill.paid)


def fee_collection(estate_ids: Any, start: date, end: date) -> tuple[Decimal, Decimal]:
    """(received, due) over the years the period touches, for 管理费收缴率."""
    row = db.session.execute(select(func.coalesce(func.sum(FeeBill.paid), 0), func.coalesce(func.sum(FeeBill.due), 0))
                             .where(FeeBill.estate_id.in_(estate_ids) if estate_ids is not None else true(),
                                    FeeBill.year >= start.year,
                                    FeeBill.year <= end.year)).one()
    return Decimal(row[0]), Decimal(row[1])


# -- money records stay: the auditor follows every one ------------------------------------

MONEY_MODELS = (MaintenanceFund, FundMovement, FundApplication, Subsidy, SubsidyPayment, LowIncomeStatus,
                FeeRefund, FeeBill)


@event.listens_for(AppSession, "before_flush")
def _keep_money_records(session: Any, flush_context: Any, instances: Any) -> None:
    """No money record is deleted — by a screen, a bulk action or the administrator — so
    the 纪工委's trail never loses one; a mistake is corrected by an edit (kept with its
    old and new values) or a correction entry."""
    for obj in session.deleted:
        if isinstance(obj, MONEY_MODELS):
            raise Refused(f"{type(obj).__admin__.label}「{obj}」不能删除：资金记录须保留供纪工委审计，"
                          "有误请修改或冲正（修改会留下原值和新值）")


# -- helpers -----------------------------------------------------------------------------


def previous_value(obj: Any, name: str) -> Any:
    """The stored value of a column before the pending write (the current one on a new row)."""
    hist = sa_inspect(obj).attrs[name].history
    if hist.deleted:
        return hist.deleted[0]
    return hist.unchanged[0] if hist.unchanged else getattr(obj, name)


def changed_fields(obj: Any, names: Any) -> list[str]:
    """Which of ``names`` the pending write changes on a stored row (none on a new one).
    A relation counts as changed when it points at another row; "" equals empty."""
    state = sa_inspect(obj)
    if not state.persistent:
        return []
    relations = state.mapper.relationships
    changed = []
    for name in names:
        if name in relations:
            local, remote = relations[name].local_remote_pairs[0]
            hist = state.attrs[name].history
            if hist.added:
                target = hist.added[0]
                new = None if target is None else getattr(target, remote.key)
            elif hist.deleted:
                new = None
            else:
                new = getattr(obj, local.key)
            if new != previous_value(obj, local.key) or (hist.added and hist.added[0] is not None and new is None):
                changed.append(name)
        else:
            hist = state.attrs[name].history
            if hist.has_changes() and _blank(hist.added[0] if hist.added else None) != _blank(previous_value(obj, name)):
                changed.append(name)
    return changed


def _blank(value: Any) -> Any:
    return None if value == "" else value
