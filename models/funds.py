"""Funds: the special maintenance fund — its accounts, movements and use applications
(篇5 二(一)1(1), 二(一)2(5)) — and what every money record shares (the rest of the money:
models.fees).

Every amount is positive with at most two decimals. A fund's balance is the sum of
its movements — never typed — and no movement may take it below zero. Money moves
only through recorded steps (a paid application writes its own withdrawal), and
movements are never edited or deleted: a mistake is corrected by another entry.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, ForeignKey, Numeric, String, Text, case, exists, func, select)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, db, now
from .kernel.declare import (ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, field,
                             figure, relation)
from .accounts import Role
from .estates import Estate
from .selfgov import Matter, Resolution
from .kernel.workflow import Param, Transition, Workflow

MONEY_KEEPERS = (Role.STREET_STAFF,)
FUND_PERMS = Perms(create=MONEY_KEEPERS, edit=MONEY_KEEPERS, delete=())  # money is never deleted
LEDGER_PERMS = Perms(create=MONEY_KEEPERS, edit=(), delete=())           # nor edited once entered


class MoneyRecord:
    """Mixed into every money record: none is deleted — by a screen, a bulk action or the
    administrator — so the 纪工委's trail never loses one; a mistake is corrected by an edit
    (kept with its old and new values) or a correction entry. ``clean_delete`` is asked on
    every path that deletes (models.kernel.hooks)."""

    def clean_delete(self) -> None:
        raise Refused(f"{type(self).__admin__.label}「{self}」不能删除：资金记录须保留供纪工委审计，"
                      "有误请修改或冲正（修改会留下原值和新值）")


def money_models() -> list[type]:
    """The money records, for the 纪工委's money trail."""
    from .kernel import declared_models

    return [m for m in declared_models() if issubclass(m, MoneyRecord)]


def money(label: str, **kwargs: Any):
    return field(Numeric(14, 2), label, money=True, **kwargs)


# -- the special maintenance fund ------------------------------------------------------


class MaintenanceFund(MoneyRecord, TimestampMixin, db.Model):
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


class FundMovement(MoneyRecord, TimestampMixin, db.Model):
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


class FundApplication(MoneyRecord, TimestampMixin, db.Model):
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
