"""Estates, their classification and who manages them (篇5 二(二), 五.1; 篇6 二.1).

An estate's property company is not typed in: it is the company of the service
contract in force today, computed in the same query as the estate.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, Numeric, String, Text,
                        UniqueConstraint, and_, bindparam, exists, or_, select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, db, now
from .kernel.softdelete import SoftDeletable, taken_by
from .kernel.declare import (Action, ChoiceType, Choices, Invalid, ModelAdmin, Perms, computed, field,
                             figure, relation)
from .accounts import Role
from .governance import DEMO_HELP, Community, Street


class EstateClass(Choices):
    """篇6 二.1: readiness for property management."""

    FIRST = "first", "一类"     # 基础条件较好的居民区
    SECOND = "second", "二类"   # 单位型居住区
    THIRD = "third", "三类"     # 目前各方面尚不具备条件


class ManagementMode(Choices):
    """篇5 二(二) 1–4."""

    MARKET = "market", "市场化物管"
    UNIT_SELF = "unit_self", "单位自管"
    OLD_CENTER = "old_center", "老旧小区–服务中心托管"
    AFFORDABLE = "affordable", "经济适用房"


# Modes in which someone other than a contracted company is responsible: the service
# center (old estates, affordable housing) or the work unit itself.
COVERED_WITHOUT_COMPANY = (ManagementMode.OLD_CENTER, ManagementMode.AFFORDABLE,
                           ManagementMode.UNIT_SELF)


class SurveyNature(Choices):
    """篇5 五.1(1): the survey sorts estates into three kinds."""

    MANAGED = "managed", "已实行物业管理"
    SELF_MANAGED = "self_managed", "自管"
    UNMANAGED = "unmanaged", "失管"


def _today():
    return bindparam("today", callable_=lambda: now().date(), type_=Date, unique=True)


class Estate(SoftDeletable, TimestampMixin, db.Model):
    """小区: a property-management area of the street."""

    __tablename__ = "estate"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(100), "小区名称")
    community_id: Mapped[int] = field(ForeignKey("community.id"), "所属社区", index=True)
    address: Mapped[str | None] = field(String(200), "地址")
    estate_class: Mapped[EstateClass] = field(ChoiceType(EstateClass), "小区类别", index=True,
                                              help="一类：基础条件较好；二类：单位型居住区；三类：尚不具备条件")
    management_mode: Mapped[ManagementMode | None] = field(
        ChoiceType(ManagementMode), "管理模式", index=True)
    survey_nature: Mapped[SurveyNature | None] = field(
        ChoiceType(SurveyNature), "住宅性质", help="摸底调查结果（篇5 五.1）")
    buildings: Mapped[int | None] = field(Integer, "楼幢数", min=0, max=2000)
    households: Mapped[int | None] = field(Integer, "户数", min=0, max=100000)
    floor_area: Mapped[Decimal | None] = field(Numeric(12, 2), "建筑面积（㎡）", min=0, max=10_000_000)
    note: Mapped[str | None] = field(Text, "备注")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False, help=DEMO_HELP)

    community: Mapped[Community] = relation("所属社区", back_populates="estates")
    contracts: Mapped[list["ServiceContract"]] = relation(
        "物业服务合同", back_populates="estate", order_by="ServiceContract.start_on.desc()")

    # Unique within its community: estates of the same name in different communities
    # (and streets) of a district are rare but real.
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    __admin__ = ModelAdmin(
        label="小区", category="小区与自治", importable=True, menu_order=10,
        list_columns=("name", "community.name", "estate_class", "management_mode",
                      "company_name", "buildings", "households", "is_pilot", "uncovered",
                      "is_demo"),
        search=("name", "address"),
        filters=("estate_class", "management_mode", "survey_nature", "community", "is_pilot",
                 "uncovered", "is_demo"),
        sort="name",
        form_columns=("name", "community", "address", "estate_class", "management_mode",
                      "survey_nature", "buildings", "households", "floor_area", "note", "is_demo"),
        details_columns=("name", "community", "address", "estate_class", "management_mode",
                         "survey_nature", "company_name", "uncovered", "buildings", "households",
                         "floor_area", "is_pilot", "contracts", "note", "is_demo",
                         "created_at", "updated_at"),
        readonly=("created_at", "updated_at"),
        actions=(
            # a pilot is a record of the rollout (models.rollout.Pilot); 试点小区 is computed from it
            Action("mark_pilot", "标记为试点", roles=(Role.STREET_STAFF, Role.PILOT_COORDINATOR),
                   run="models.rollout:mark_pilots", confirm="确定将所选小区标记为试点小区吗？"),
        ),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        community_id = self.community.id if self.community is not None else self.community_id
        if self.name and community_id is not None:
            hint = taken_by(Estate, self, Estate.community_id == community_id, Estate.name == self.name)
            if hint is not None:
                raise Invalid({"name": f"{self.community or '该社区'}已有名为“{self.name}”的小区{hint}"})


class Qualification(Choices):
    FIRST = "first", "一级"
    SECOND = "second", "二级"
    THIRD = "third", "三级"
    PROVISIONAL = "provisional", "暂定"
    NONE = "none", "无（不再要求资质）"


class PropertyCompany(SoftDeletable, TimestampMixin, db.Model):
    """物业服务企业: the street reviews its qualification and assesses its service
    (篇5 二(一)1(1), 二(二)1)."""

    __tablename__ = "property_company"
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "登记街道", index=True)
    name: Mapped[str] = field(String(100), "企业名称")
    credit_code: Mapped[str | None] = field(String(18), "统一社会信用代码",
                                            help="18 位，数字或大写字母")
    qualification: Mapped[Qualification | None] = field(ChoiceType(Qualification), "资质等级")
    qualification_no: Mapped[str | None] = field(String(60), "资质证书编号")
    contact: Mapped[str | None] = field(String(40), "联系人")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    address: Mapped[str | None] = field(String(200), "地址")
    note: Mapped[str | None] = field(Text, "备注")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False, help=DEMO_HELP)

    street: Mapped[Street] = relation("登记街道")
    contracts: Mapped[list["ServiceContract"]] = relation(
        "服务合同", back_populates="company", order_by="ServiceContract.start_on.desc()")
    reviews: Mapped[list["CompanyReview"]] = relation(
        "年度考评意见", back_populates="company", order_by="CompanyReview.year.desc()")

    __table_args__ = (UniqueConstraint("street_id", "name"),)

    __admin__ = ModelAdmin(
        label="物业服务企业", category="小区与自治", importable=True, menu_order=20,
        list_columns=("name", "qualification", "contact", "phone", "estates_served", "is_demo"),
        search=("name", "credit_code", "contact"), filters=("qualification", "street", "is_demo"),
        sort="name",
        form_columns=("street", "name", "credit_code", "qualification", "qualification_no",
                      "contact", "phone", "address", "note", "is_demo"),
        details_columns=("name", "street", "credit_code", "qualification", "qualification_no",
                         "contact", "phone", "address", "estates_served", "contracts", "reviews",
                         "note", "is_demo"),
        perms=Perms.registry(),
        scope="street_id",
    )

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.credit_code and not re.fullmatch(r"[0-9A-Z]{18}", self.credit_code):
            raise Invalid({"credit_code": "应为 18 位数字或大写字母"})


class Counterparty(Choices):
    OWNERS_COMMITTEE = "owners_committee", "业主委员会"
    DEVELOPER = "developer", "建设单位（前期物业）"
    STREET = "street", "街道（托管）"
    WORK_UNIT = "work_unit", "产权单位"


class ServiceContract(TimestampMixin, db.Model):
    """物业服务合同: which company serves which estate, from when to when."""

    __tablename__ = "service_contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = field(ForeignKey("property_company.id"), "物业服务企业", index=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    counterparty: Mapped[Counterparty | None] = field(ChoiceType(Counterparty), "委托方")
    start_on: Mapped[date] = field(Date, "起始日期")
    end_on: Mapped[date | None] = field(Date, "终止日期", help="留空表示长期有效")
    fee_standard: Mapped[str | None] = field(String(100), "收费标准", help="如：0.8 元/㎡·月")
    note: Mapped[str | None] = field(Text, "备注")

    company: Mapped[PropertyCompany] = relation("物业服务企业", back_populates="contracts")
    estate: Mapped[Estate] = relation("小区", back_populates="contracts")

    __admin__ = ModelAdmin(
        label="物业服务合同", category="小区与自治", importable=True, menu_order=21,
        list_columns=("estate.name", "company.name", "counterparty", "start_on", "end_on",
                      "in_force", "fee_standard"),
        search=("fee_standard", "note"), filters=("company", "estate", "in_force", "end_on"),
        sort="-start_on",
        form_columns=("estate", "company", "counterparty", "start_on", "end_on", "fee_standard",
                      "note"),
        perms=Perms.registry(),
        scope="estate_id",
    )

    def __str__(self) -> str:
        start = f"（{self.start_on:%Y-%m-%d}起）" if self.start_on else ""
        return f"{self.estate_name or ''}—{self.company_name or ''}{start}"

    @computed("正在履行", expression=lambda cls: and_(
        cls.start_on <= _today(), or_(cls.end_on.is_(None), cls.end_on >= _today())))
    def in_force(self) -> bool:
        today = now().date()
        return self.start_on <= today and (self.end_on is None or self.end_on >= today)

    def clean(self) -> None:
        if self.start_on and self.end_on and self.end_on < self.start_on:
            raise Invalid({"end_on": "终止日期不能早于起始日期"})
        if self.company and self.estate and self.company.street_id != self.estate.community.street_id:
            raise Invalid({"company": "该企业登记在其他街道，请先在本街道登记"})
        if self.estate and self.start_on:
            clash = db.session.scalar(select(ServiceContract).where(
                ServiceContract.estate_id == self.estate.id, ServiceContract.id != (self.id or 0),
                or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= self.start_on),
                ServiceContract.start_on <= (self.end_on or date.max)))
            if clash is not None:
                raise Invalid({"start_on": f"与已有合同时间重叠：{clash}"})


class ReviewRating(Choices):
    EXCELLENT = "excellent", "优秀"
    GOOD = "good", "合格"
    BASIC = "basic", "基本合格"
    FAIL = "fail", "不合格"


class CompanyReview(TimestampMixin, db.Model):
    """The street's yearly opinion on a company, input to its annual review (年审)."""

    __tablename__ = "company_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = field(ForeignKey("property_company.id"), "物业服务企业", index=True)
    year: Mapped[int] = field(Integer, "年度", min=2000, max=2100)
    rating: Mapped[ReviewRating] = field(ChoiceType(ReviewRating), "考评结论")
    opinion: Mapped[str | None] = field(Text, "考评意见", help="供主管部门年审参考")
    reviewed_on: Mapped[date | None] = field(Date, "考评日期")
    reviewer: Mapped[str | None] = field(String(60), "考评人")

    company: Mapped[PropertyCompany] = relation("物业服务企业", back_populates="reviews")

    __table_args__ = (UniqueConstraint("company_id", "year"),)

    __admin__ = ModelAdmin(
        label="企业年度考评意见", category="小区与自治", menu_order=22,
        list_columns=("year", "company.name", "rating", "reviewed_on", "reviewer"),
        search=("opinion", "reviewer"), filters=("year", "rating", "company"), sort="-year",
        form_columns=("company", "year", "rating", "opinion", "reviewed_on", "reviewer"),
        perms=Perms.registry(),
        scope="company.street_id",
    )

    def __str__(self) -> str:
        return f"{self.company_name or ''} {self.year}年度"

    def clean(self) -> None:
        if self.reviewed_on and self.year and self.reviewed_on.year < self.year:
            raise Invalid({"reviewed_on": "考评日期不能早于所考评的年度"})


# The company serving an estate today, loaded with the estate in one query.
_current_company = (
    select(PropertyCompany.name)
    .join(ServiceContract, ServiceContract.company_id == PropertyCompany.id)
    .where(ServiceContract.estate_id == Estate.id, ServiceContract.start_on <= _today(),
           or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= _today()))
    .order_by(ServiceContract.start_on.desc()).limit(1)
    .correlate_except(PropertyCompany, ServiceContract).scalar_subquery()
)
Estate.company_name = figure("物业服务企业", _current_company,
                             help="当前正在履行的物业服务合同的企业")

# Names loaded with the row, so str() in lists, dropdowns and look-ups costs no query.
ServiceContract.estate_name = figure("小区", select(Estate.name).where(
    Estate.id == ServiceContract.estate_id).correlate_except(Estate), internal=True)
ServiceContract.company_name = figure("物业服务企业", select(PropertyCompany.name).where(
    PropertyCompany.id == ServiceContract.company_id).correlate_except(PropertyCompany), internal=True)
CompanyReview.company_name = figure("物业服务企业", select(PropertyCompany.name).where(
    PropertyCompany.id == CompanyReview.company_id).correlate_except(PropertyCompany), internal=True)

Estate.uncovered = computed(
    "无人管理", help="没有在履行的物业服务合同，也不由服务中心托管或产权单位自管", warn=True,
    expression=lambda cls: and_(
        ~exists().where(ServiceContract.estate_id == cls.id, ServiceContract.start_on <= _today(),
                        or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= _today()))
        .correlate_except(ServiceContract),
        or_(cls.management_mode.is_(None),
            cls.management_mode.notin_([m.value for m in COVERED_WITHOUT_COMPANY]))),
)(lambda self: self.company_name is None and self.management_mode not in COVERED_WITHOUT_COMPANY)

PropertyCompany.estates_served = figure(
    "服务小区数", select(db.func.count(ServiceContract.id)).where(
        ServiceContract.company_id == PropertyCompany.id, ServiceContract.start_on <= _today(),
        or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= _today()))
    .correlate_except(ServiceContract))
