"""Money beside the maintenance fund (篇5 二(一)2(2)(5)(6)(7)): subsidies from the finance
office and their payments, collect-then-refund for low-income households (先征后返), and
fees due and paid (管理费收缴率). Like every money record, none is deleted
(models.funds.MoneyRecord); amounts are positive with at most two decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, exists, func, select, true
from sqlalchemy.orm import Mapped, mapped_column

from .accounts import Role
from .estates import Estate, _today
from .funds import FUND_PERMS, LEDGER_PERMS, MONEY_KEEPERS, MoneyRecord, changed_fields, money, previous_value
from .governance import OrgUnit
from .kernel import TimestampMixin, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, Upload, field, figure, relation
from .kernel.workflow import Clock, Param, Transition, Workflow, days_after
from .service_center import Household


# -- subsidies -----------------------------------------------------------------------


class SubsidyRecipient(Choices):
    ESTATE = "estate", "小区"
    CENTER = "center", "物业管理服务中心"


class Subsidy(MoneyRecord, TimestampMixin, db.Model):
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


class SubsidyPayment(MoneyRecord, TimestampMixin, db.Model):
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


class LowIncomeStatus(MoneyRecord, TimestampMixin, db.Model):
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


class FeeRefund(MoneyRecord, TimestampMixin, db.Model):
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


class FeeBill(MoneyRecord, TimestampMixin, db.Model):
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
