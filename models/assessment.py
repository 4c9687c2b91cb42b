"""Annual assessment (考评) of communities and property companies (篇5 二(一)2(7); 篇6 四.3).

A score sheet per subject and year: items with weights and scores, evidence linked to
inspections and indicators; the total is computed. Finalising records the outcome —
commendation (表彰), pass, criticism (通报批评) or correction by a date (限期改正) — and,
for a company, passes the opinion to its annual review (年审). A final sheet — its
subject and its items — is read-only: 退回重评 reopens it, and finalising again writes
the outcome and the review anew, so they can never disagree with the scores.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, func, or_,
                        select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, Versioned, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, field, figure, relation
from .accounts import Role
from .estates import CompanyReview, Estate, PropertyCompany, ReviewRating, ServiceContract
from .governance import Community
from .kernel.locks import being_deleted, changed, is_new, was
from .supervision import Indicator
from .inspections import Inspection
from .kernel.workflow import Param, Transition, Workflow


class SubjectKind(Choices):
    COMMUNITY = "community", "社区"
    COMPANY = "company", "物业服务企业"


class Outcome(Choices):
    COMMEND = "commend", "表彰"
    PASS = "pass", "合格"
    CORRECT = "correct", "限期改正"
    CRITICIZE = "criticize", "通报批评"


class AssessmentState(Choices):
    DRAFT = "draft", "评分中"
    FINAL = "final", "已定稿"


# What the assessment says to the company's annual review.
REVIEW_RATING = {Outcome.COMMEND: ReviewRating.EXCELLENT, Outcome.PASS: ReviewRating.GOOD,
                 Outcome.CORRECT: ReviewRating.BASIC, Outcome.CRITICIZE: ReviewRating.FAIL}
ASSESSORS = (Role.STREET_STAFF,)


class Assessment(TimestampMixin, db.Model):
    __tablename__ = "assessment"
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = field(Integer, "年度", min=2000, max=2100)
    subject_kind: Mapped[SubjectKind] = field(ChoiceType(SubjectKind), "考评对象类别")
    community_id: Mapped[int | None] = field(ForeignKey("community.id"), "社区", index=True)
    company_id: Mapped[int | None] = field(ForeignKey("property_company.id"), "物业服务企业", index=True)
    assessor: Mapped[str | None] = field(String(60), "考评人")
    state: Mapped[AssessmentState] = field(ChoiceType(AssessmentState), "状态",
                                           default=AssessmentState.DRAFT)
    assessed_on: Mapped[date | None] = field(Date, "定稿日期")
    outcome: Mapped[Outcome | None] = field(ChoiceType(Outcome), "考评结果")
    correction_deadline: Mapped[date | None] = field(Date, "限期改正期限")
    opinion: Mapped[str | None] = field(Text, "考评意见", help="企业的考评意见同时作为年审意见")

    community: Mapped[Community | None] = relation("社区")
    company: Mapped[PropertyCompany | None] = relation("物业服务企业")
    items: Mapped[list["AssessmentItem"]] = relation(
        "考评项目", back_populates="assessment", order_by="AssessmentItem.seq", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("year", "community_id"), UniqueConstraint("year", "company_id"))

    __admin__ = ModelAdmin(
        label="年度考评", category="监督考评", menu_order=50,
        list_columns=("year", "subject_kind", "subject_name", "total_score", "max_score", "state", "outcome"),
        search=("opinion", "assessor"), filters=("year", "subject_kind", "state", "outcome"),
        sort=("-year", "subject_kind"),
        form_columns=("year", "subject_kind", "community", "company", "assessor"),
        details_columns=("year", "subject_kind", "community", "company", "assessor", "items", "total_score",
                         "max_score", "state", "assessed_on", "outcome", "correction_deadline", "opinion"),
        inline=("items",),
        perms=Perms(create=ASSESSORS, edit=ASSESSORS, delete=ASSESSORS),
        scope=("community_id", "company.street_id"),
        lookup=("subject_name", "assessor"),  # found by whom it assesses
        print_template="print/assessment.html",
        workflow=Workflow(transitions=(
            Transition("finalize", "定稿", source=(AssessmentState.DRAFT,), target=AssessmentState.FINAL,
                       roles=ASSESSORS, guard="guard_finalize", style="success",
                       params=(Param("assessed_on", "定稿日期", "date"),
                               Param("outcome", "考评结果", "choice", choices=Outcome),
                               Param("correction_deadline", "限期改正期限", "date", required=False,
                                     help="考评结果为限期改正时必填"),
                               Param("opinion", "考评意见", "textarea"))),
            Transition("reopen", "退回重评", source=(AssessmentState.FINAL,), target=AssessmentState.DRAFT,
                       roles=ASSESSORS, style="secondary",
                       confirm="退回重评后须重新定稿；确定吗？"),
        )),
    )

    # What the scores are about; the outcome fields change only by 定稿 and 退回重评.
    SUBJECT = ("year", "subject_kind", "community", "company", "assessor")

    def __str__(self) -> str:
        return f"{self.year}年度考评：{self.subject_name or ''}"

    def guard_finalize(self) -> str | None:
        if not self.items:
            return "考评表还没有任何考评项目"
        if any(i.score is None for i in self.items):
            return "还有考评项目未评分"
        return None

    def finalize(self, assessed_on: date, outcome: Outcome, opinion: str,
                 correction_deadline: date | None = None) -> None:
        self.assessed_on, self.outcome, self.opinion = assessed_on, outcome, opinion
        self.correction_deadline = correction_deadline
        if self.subject_kind == SubjectKind.COMPANY and self.company is not None:
            self.pass_to_review()

    def reopen(self) -> None:
        """A sheet being rescored has no outcome until it is finalised again."""
        self.assessed_on = self.outcome = self.correction_deadline = None

    def locked(self) -> str | None:
        """Why the sheet is read-only: it was final before this write."""
        if was(self, "state") == AssessmentState.FINAL:
            return "该考评表已定稿，不能修改；如需更改，请先「退回重评」"
        return None

    def clean_delete(self) -> None:
        if self.locked():
            raise Refused("该考评表已定稿，不能删除；如需更改，请先「退回重评」")

    def estate_ids(self) -> Any:
        """The estates the sheet is about: the community's, or those the company served that year."""
        if self.community_id is not None:
            return select(Estate.id).where(Estate.community_id == self.community_id)
        first, last = date(self.year, 1, 1), date(self.year, 12, 31)
        return select(ServiceContract.estate_id).where(
            ServiceContract.company_id == self.company_id, ServiceContract.start_on <= last,
            or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= first))

    def indicator_standing(self) -> dict[int, Any]:
        """indicator id -> its standing over the year for the subject's estates: the
        evidence printed beside each item linked to an indicator."""
        from .standing import standing

        if not any(i.indicator_id for i in self.items) or not self.year:
            return {}
        rows = standing(self.estate_ids(), date(self.year, 1, 1), date(self.year, 12, 31))
        return {r.indicator.id: r for r in rows}

    def pass_to_review(self) -> None:
        """The company's opinion for this year is the assessment's (篇5 二(二)1)."""
        review = db.session.scalar(select(CompanyReview).where(
            CompanyReview.company_id == self.company_id, CompanyReview.year == self.year))
        if review is None:
            review = CompanyReview(company=self.company, year=self.year)
            db.session.add(review)
        review.rating = REVIEW_RATING[Outcome(self.outcome)]
        review.opinion, review.reviewed_on = self.opinion, self.assessed_on
        review.reviewer = self.assessor or "街道物业管理办公室"

    def clean(self) -> None:
        touched = changed(self, *self.SUBJECT)
        if touched and self.locked():
            raise Invalid({touched[0]: self.locked()})
        errors: dict[str, str] = {}
        if self.subject_kind == SubjectKind.COMMUNITY:
            if self.community is None:
                errors["community"] = "考评对象为社区时须选择社区"
            if self.company is not None:
                errors["company"] = "考评对象为社区时不选企业"
        elif self.subject_kind == SubjectKind.COMPANY:
            if self.company is None:
                errors["company"] = "考评对象为物业服务企业时须选择企业"
            if self.community is not None:
                errors["community"] = "考评对象为企业时不选社区"
        if self.outcome == Outcome.CORRECT and self.correction_deadline is None:
            errors["correction_deadline"] = "考评结果为限期改正时须填写改正期限"
        if self.correction_deadline and self.assessed_on and self.correction_deadline <= self.assessed_on:
            errors["correction_deadline"] = "改正期限须晚于定稿日期"
        if self.assessed_on and self.assessed_on > now().date():
            errors["assessed_on"] = "定稿日期不能晚于今天"
        if self.year and self.year > now().year:
            errors["year"] = "不能考评尚未开始的年度"
        if errors:
            raise Invalid(errors)


class AssessmentItem(Versioned, db.Model):
    __tablename__ = "assessment_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = field(ForeignKey("assessment.id"), "年度考评", index=True)
    seq: Mapped[int] = field(Integer, "序号", default=1, min=1, max=99)
    item: Mapped[str] = field(String(200), "考评项目")
    weight: Mapped[Decimal] = field(Numeric(6, 2), "分值", min=0.5, max=100)
    score: Mapped[Decimal | None] = field(Numeric(6, 2), "得分", min=0, max=100)
    evidence: Mapped[str | None] = field(Text, "依据")
    indicator_id: Mapped[int | None] = field(ForeignKey("indicator.id"), "相关指标")
    inspection_id: Mapped[int | None] = field(ForeignKey("inspection.id"), "相关检查")

    assessment: Mapped[Assessment] = relation("年度考评", back_populates="items")
    indicator: Mapped[Indicator | None] = relation("相关指标")
    inspection: Mapped[Inspection | None] = relation("相关检查")

    __admin__ = ModelAdmin(
        label="考评项目", category="监督考评", menu_order=51,
        list_columns=("assessment", "seq", "item", "weight", "score", "indicator.name"),
        search=("item", "evidence"), filters=("indicator",), sort="seq",
        form_columns=("assessment", "seq", "item", "weight", "score", "evidence", "indicator", "inspection"),
        perms=Perms(create=ASSESSORS, edit=ASSESSORS, delete=ASSESSORS),
        scope=("assessment.community_id", "assessment.company.street_id"),
        lookup=("item",),
    )

    def __str__(self) -> str:
        return self.item or "考评项目"

    def clean(self) -> None:
        if is_new(self) or changed(self, "assessment", "seq", "item", "weight", "score", "evidence",
                                   "indicator", "inspection"):
            for sheet in {self.assessment, was(self, "assessment")} - {None}:  # the old one too, if moved
                if sheet.locked():
                    raise Invalid({"assessment": sheet.locked()})
        if self.score is not None and self.weight is not None and self.score > self.weight:
            raise Invalid({"score": f"得分不能超过该项分值（{self.weight}）"})
        if self.inspection is not None and self.assessment is not None and self.assessment.community is not None \
                and self.inspection.estate.community_id != self.assessment.community_id:
            raise Invalid({"inspection": "所选检查不属于被考评的社区"})

    def clean_delete(self) -> None:
        sheet = self.assessment
        if sheet is not None and not being_deleted(sheet) and sheet.locked():
            raise Refused(f"不能删除考评项目「{self}」：该考评表已定稿；如需更改，请先「退回重评」")


Assessment.total_score = figure("总得分", select(func.coalesce(func.sum(AssessmentItem.score), 0)).where(
    AssessmentItem.assessment_id == Assessment.id).correlate_except(AssessmentItem))
Assessment.max_score = figure("满分", select(func.coalesce(func.sum(AssessmentItem.weight), 0)).where(
    AssessmentItem.assessment_id == Assessment.id).correlate_except(AssessmentItem))
Assessment.subject_name = figure("考评对象", func.coalesce(
    select(Community.name).where(Community.id == Assessment.community_id).correlate_except(Community)
    .scalar_subquery(),
    select(PropertyCompany.name).where(PropertyCompany.id == Assessment.company_id)
    .correlate_except(PropertyCompany).scalar_subquery()))
