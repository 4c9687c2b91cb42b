"""Demo funds: maintenance-fund accounts with top-ups; applications through their steps
(one paid after a carried owners' vote, one on the emergency path, one waiting for a
vote); subsidies; two low-income households with one refund overdue; fee bills with
a school and a kindergarten."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from models import db, now
from models.accounts import Role
from models.estates import Estate, ManagementMode
from models.funds import FundApplication, FundMovement, MaintenanceFund, MovementKind, Proposer
from models.fees import FeeBill, FeeRefund, LowIncomeStatus, PayerKind, Subsidy, SubsidyPayment, SubsidyRecipient
from models.governance import OrgKind, OrgUnit
from models.selfgov import AssemblyMeeting, Matter, Resolution
from models.service_center import Household
from models.kernel.workflow import perform

from .loader import demo_estate


def _step(row: object, name: str, **params: object) -> None:
    perform(row, name, Role.ADMIN, params)
    db.session.flush()


def load_funds() -> None:
    if db.session.scalar(db.select(db.func.count()).select_from(MaintenanceFund)):
        return
    today = now().date()
    year_start = today.replace(month=1, day=1)
    funds = {}
    for name, opening in (("永乐花园", "850000"), ("江滨华庭", "420000"), ("后溪公寓小区", "160000"),
                          ("滨江花苑", "300000")):
        estate = demo_estate(name)
        fund = MaintenanceFund(estate=estate, account_no=f"6222{estate.id:08d}", bank="示例银行城区支行",
                               opened_on=date(today.year - 5, 3, 1))
        fund.movements.append(FundMovement(kind=MovementKind.TOP_UP, amount=Decimal(opening),
                                           occurred_on=date(today.year - 1, 12, 31), note="上年结余转入"))
        fund.movements.append(FundMovement(kind=MovementKind.INTEREST, amount=Decimal("1234.56"),
                                           occurred_on=year_start + timedelta(days=20), note="年度利息"))
        db.session.add(fund)
        funds[name] = fund
    db.session.flush()

    # paid after the owners voted (a major matter that carried)
    yongle = funds["永乐花园"]
    resolution = db.session.scalar(db.select(Resolution).join(Resolution.meeting).where(
        AssemblyMeeting.estate_id == yongle.estate_id, Resolution.matter == Matter.MAJOR))
    held = resolution.meeting.held_on
    app = FundApplication(fund=yongle, item="3号楼屋面防水维修", proposer=Proposer.COMMITTEE,
                          proposer_name="永乐花园业主委员会", amount=Decimal("68500.00"),
                          quotes="三家报价：68500、71200、75000 元", proposed_on=max(held, year_start))
    db.session.add(app)
    db.session.flush()
    _step(app, "owners_approve", resolution=resolution)
    _step(app, "review", review_opinion="报价合理，同意使用。", approved_amount=Decimal("68500.00"),
          reviewed_on=app.proposed_on + timedelta(days=5))
    _step(app, "work_done", work_done_on=app.proposed_on + timedelta(days=40))
    _step(app, "apply_payment", payment_applied_on=app.proposed_on + timedelta(days=42))
    _step(app, "pay", paid_on=app.proposed_on + timedelta(days=45))

    # the emergency path: a burst riser referred by the repair station
    houxi = funds["后溪公寓小区"]
    urgent = FundApplication(fund=houxi, item="2号楼供水主管爆裂抢修", proposer=Proposer.COMPANY,
                             proposer_name="江滨物业服务有限公司", amount=Decimal("12800.00"),
                             proposed_on=today - timedelta(days=20))
    db.session.add(urgent)
    db.session.flush()
    _step(urgent, "emergency", emergency_reason="供水主管爆裂，整栋停水，危及住户正常生活，需立即抢修")
    _step(urgent, "review", review_opinion="情况紧急，同意先行维修。", approved_amount=Decimal("12800.00"),
          reviewed_on=today - timedelta(days=19))

    # waiting for the owners' vote
    db.session.add(FundApplication(fund=funds["江滨华庭"], item="电梯更换", proposer=Proposer.COMMITTEE,
                                   proposer_name="江滨华庭业主委员会", amount=Decimal("560000.00"),
                                   proposed_on=today - timedelta(days=7)))

    center = db.session.scalar(db.select(OrgUnit).where(OrgUnit.kind == OrgKind.SERVICE_CENTER))
    grant = Subsidy(recipient=SubsidyRecipient.CENTER, unit=center, purpose="老旧小区基本物业服务补贴",
                    amount=Decimal("240000.00"), allocated_on=year_start + timedelta(days=30), approver="财政所 所长",
                    use_report="上半年用于 20 个老旧小区保洁、巡逻人员工资", reported_on=year_start + timedelta(days=190))
    grant.payments.append(SubsidyPayment(amount=Decimal("120000.00"), paid_on=year_start + timedelta(days=35)))
    grant.payments.append(SubsidyPayment(amount=Decimal("60000.00"), paid_on=year_start + timedelta(days=200)))
    db.session.add(grant)
    old = db.session.scalar(db.select(Estate).where(Estate.management_mode == ManagementMode.OLD_CENTER))
    db.session.add(Subsidy(recipient=SubsidyRecipient.ESTATE, estate=old, purpose="旧城改造配套设施补贴",
                           amount=Decimal("50000.00"), allocated_on=today - timedelta(days=60), approver="财政所 所长"))

    households = db.session.scalars(db.select(Household).order_by(Household.id).limit(2)).all()
    for i, household in enumerate(households):
        db.session.add(LowIncomeStatus(household=household, certificate_no=f"DB{2024000 + i}",
                                       valid_from=year_start - timedelta(days=200), valid_to=year_start + timedelta(days=700)))
    db.session.flush()
    for i, household in enumerate(households):
        refund = FeeRefund(household=household, period=f"{today.year}年上半年", collected=Decimal("360.00"),
                           collected_on=year_start + timedelta(days=60 + 100 * i), refund=Decimal("360.00"))
        db.session.add(refund)
        db.session.flush()
        if i == 0:
            _step(refund, "pay_refund", refunded_on=refund.collected_on + timedelta(days=20))
        # the second stays due, past its 30 days

    for name, school in (("永乐花园", "永乐幼儿园"), ("江滨华庭", "江滨小学")):
        estate = demo_estate(name)
        households_due = Decimal(estate.households or 100) * 600
        db.session.add_all([
            FeeBill(estate=estate, payer_kind=PayerKind.HOUSEHOLDS, payer_name="住户合计", year=today.year,
                    due=households_due, paid=(households_due * Decimal("0.96")).quantize(Decimal("0.01"))),
            FeeBill(estate=estate, payer_kind=PayerKind.KINDERGARTEN if "幼儿园" in school else PayerKind.SCHOOL,
                    payer_name=school, year=today.year, due=Decimal("24000.00"), paid=Decimal("12000.00"),
                    note="综合科协调中"),
        ])
    db.session.flush()
