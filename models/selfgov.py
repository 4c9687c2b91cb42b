"""Owners' self-governance: assemblies, resolutions and committees (篇5 二(一)1(2), 3(1);
篇6 二.2).

Whether a resolution carried is computed from its votes, following Civil Code art. 278:
* participation: owners holding at least 2/3 of the exclusive floor area **and** at
  least 2/3 of the owners take part in the vote;
* an ordinary matter passes with more than half of the participating area **and**
  more than half of the participating owners;
* a major matter (such as using the maintenance fund) needs at least 3/4 of both.

An owners' committee moves through its lifecycle only by transitions:
筹备组 → 召开业主大会 → 选举 → 备案（街道审核意见；选举后 30 日内）→ 履职 →
换届（任期届满前 90 日启动）→ 移交新一届.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, and_, select
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, Versioned, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, computed, field, figure, relation
from .accounts import Role
from .estates import Estate
from .kernel.workflow import Clock, Param, Transition, Workflow, days_after, days_before

SELF_GOV_EDITORS = (Role.STREET_STAFF, Role.COMMUNITY_STAFF)


class MeetingKind(Choices):
    FIRST = "first", "首次业主大会"
    REGULAR = "regular", "定期会议"
    EXTRAORDINARY = "extraordinary", "临时会议"


class VotingForm(Choices):
    GATHERING = "gathering", "集体讨论"
    WRITTEN = "written", "书面征求意见"


def _quorum(voting_owners, total_owners, voting_area, total_area):
    """Both ≥ 2/3, in exact arithmetic (works for Python numbers and SQL columns)."""
    return and_(3 * voting_owners >= 2 * total_owners, 3 * voting_area >= 2 * total_area)


class AssemblyMeeting(TimestampMixin, db.Model):
    """业主大会会议: attendance by owners and by floor area."""

    __tablename__ = "assembly_meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    kind: Mapped[MeetingKind] = field(ChoiceType(MeetingKind), "会议类别")
    held_on: Mapped[date] = field(Date, "召开日期")
    voting_form: Mapped[VotingForm | None] = field(ChoiceType(VotingForm), "表决形式")
    total_owners: Mapped[int] = field(Integer, "业主总人数", min=1, max=100000)
    total_area: Mapped[Decimal] = field(Numeric(12, 2), "专有部分总面积（㎡）", min=1, max=10_000_000)
    voting_owners: Mapped[int] = field(Integer, "参与表决人数", min=0, max=100000)
    voting_area: Mapped[Decimal] = field(Numeric(12, 2), "参与表决面积（㎡）", min=0, max=10_000_000)
    note: Mapped[str | None] = field(Text, "备注")

    estate: Mapped[Estate] = relation("小区")
    resolutions: Mapped[list["Resolution"]] = relation(
        "表决事项", back_populates="meeting", order_by="Resolution.seq", cascade="all, delete-orphan")

    @computed("参与表决达到法定比例",
              help="专有部分面积和人数均达三分之二以上的业主参与表决（民法典第二百七十八条）",
              expression=lambda cls: _quorum(cls.voting_owners, cls.total_owners,
                                             cls.voting_area, cls.total_area))
    def quorum_met(self) -> bool:
        if None in (self.voting_owners, self.total_owners, self.voting_area, self.total_area):
            return False
        return (3 * self.voting_owners >= 2 * self.total_owners
                and 3 * self.voting_area >= 2 * self.total_area)

    __admin__ = ModelAdmin(
        label="业主大会会议", category="小区与自治", menu_order=30,
        list_columns=("held_on", "estate.name", "kind", "total_owners", "voting_owners",
                      "total_area", "voting_area", "quorum_met"),
        search=("note",), filters=("estate", "kind", "held_on", "quorum_met"), sort="-held_on",
        form_columns=("estate", "kind", "held_on", "voting_form", "total_owners", "total_area",
                      "voting_owners", "voting_area", "note"),
        inline=("resolutions",),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="estate_id",
        lookup=("estate_name", "note"),  # found by its estate, as people name it
    )

    def __str__(self) -> str:
        when = f"{self.held_on:%Y-%m-%d}" if self.held_on else ""
        return f"{self.estate_name or ''} {when} {self.kind.label if self.kind else ''}".strip()

    def clean(self) -> None:
        errors = {}
        if self.held_on and self.held_on > now().date():
            errors["held_on"] = "召开日期不能晚于今天（请在会后记录）"
        if self.voting_owners is not None and self.total_owners is not None \
                and self.voting_owners > self.total_owners:
            errors["voting_owners"] = "参与表决人数不能多于业主总人数"
        if self.voting_area is not None and self.total_area is not None \
                and self.voting_area > self.total_area:
            errors["voting_area"] = "参与表决面积不能大于专有部分总面积"
        if errors:
            raise Invalid(errors)


class Matter(Choices):
    ORDINARY = "ordinary", "一般事项"
    MAJOR = "major", "重大事项"  # 筹集和使用维修资金、改建重建等：四分之三


class Resolution(Versioned, db.Model):
    """表决事项: votes for and against, by owners and by area; carried is computed."""

    __tablename__ = "resolution"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = field(ForeignKey("assembly_meeting.id"), "业主大会会议", index=True)
    seq: Mapped[int] = field(Integer, "序号", default=1, min=1, max=99)
    title: Mapped[str] = field(String(200), "表决事项")
    matter: Mapped[Matter] = field(ChoiceType(Matter), "事项类别",
                                   help="重大事项：筹集、使用专项维修资金，改建、重建建筑物等")
    for_owners: Mapped[int] = field(Integer, "同意人数", min=0, max=100000)
    for_area: Mapped[Decimal] = field(Numeric(12, 2), "同意面积（㎡）", min=0, max=10_000_000)
    against_owners: Mapped[int] = field(Integer, "反对人数", default=0, min=0, max=100000)
    against_area: Mapped[Decimal] = field(Numeric(12, 2), "反对面积（㎡）", default=0, min=0,
                                          max=10_000_000)

    meeting: Mapped[AssemblyMeeting] = relation("业主大会会议", back_populates="resolutions")

    __admin__ = ModelAdmin(
        label="业主大会表决事项", category="小区与自治", menu_order=31,
        list_columns=("meeting", "seq", "title", "matter", "for_owners", "for_area", "carried"),
        search=("title",), filters=("matter", "carried"), sort="seq",
        form_columns=("meeting", "seq", "title", "matter", "for_owners", "for_area",
                      "against_owners", "against_area"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="meeting.estate_id",
        lookup=("title",),
    )

    def __str__(self) -> str:
        return self.title or "表决事项"

    @property
    def carried(self) -> bool:
        m = self.meeting
        if m is None or not m.quorum_met or self.for_owners is None or self.for_area is None:
            return False
        if self.matter == Matter.MAJOR:
            return 4 * self.for_owners >= 3 * m.voting_owners and 4 * self.for_area >= 3 * m.voting_area
        return 2 * self.for_owners > m.voting_owners and 2 * self.for_area > m.voting_area

    def clean(self) -> None:
        m = self.meeting
        if m is None:
            return
        errors = {}
        if (self.for_owners or 0) + (self.against_owners or 0) > (m.voting_owners or 0):
            errors["for_owners"] = f"同意与反对人数之和不能超过参与表决人数（{m.voting_owners}）"
        if (self.for_area or 0) + (self.against_area or 0) > (m.voting_area or 0):
            errors["for_area"] = f"同意与反对面积之和不能超过参与表决面积（{m.voting_area}）"
        if errors:
            raise Invalid(errors)


def _carried_sql(cls):
    m = AssemblyMeeting
    voting = select(m.voting_owners, m.voting_area).where(m.id == cls.meeting_id).correlate_except(m)
    vo = voting.with_only_columns(m.voting_owners).scalar_subquery()
    va = voting.with_only_columns(m.voting_area).scalar_subquery()
    quorum = select(m.id).where(m.id == cls.meeting_id, _quorum(m.voting_owners, m.total_owners,
                                                               m.voting_area, m.total_area)
                                ).correlate_except(m).exists()
    from sqlalchemy import case

    return and_(quorum, case(
        (cls.matter == Matter.MAJOR.value,
         and_(4 * cls.for_owners >= 3 * vo, 4 * cls.for_area >= 3 * va)),
        else_=and_(2 * cls.for_owners > vo, 2 * cls.for_area > va)))


Resolution.carried = computed("是否通过", expression=_carried_sql,
                              help="按民法典第二百七十八条由表决结果计算")(Resolution.carried.fget)


# -- owners' committees ---------------------------------------------------------------


class CommitteeState(Choices):
    PREPARING = "preparing", "筹备中"
    ASSEMBLY_HELD = "assembly_held", "已召开业主大会"
    ELECTED = "elected", "已选举待备案"
    IN_OFFICE = "in_office", "履职中"
    RE_ELECTING = "re_electing", "换届中"
    HANDED_OVER = "handed_over", "已移交"


FILING = Clock("filing", "备案期限", start="election_date", due="filing_due_on",
               stop="filing_date", rule=days_after(30))
RE_ELECTION = Clock("re_election", "换届启动期限", start="term_end", due="re_election_due_on",
                    stop="re_election_started_on", rule=days_before(90),
                    states=(CommitteeState.IN_OFFICE,))
TERM_YEARS = 5  # 业主委员会每届任期不超过五年

S = CommitteeState
COMMITTEE_WORKFLOW = Workflow(
    transitions=(
        Transition("hold_assembly", "召开业主大会", source=(S.PREPARING,), target=S.ASSEMBLY_HELD,
                   roles=SELF_GOV_EDITORS, guard="guard_hold_assembly",
                   confirm="确认已召开业主大会？系统将关联最近一次参与表决达到法定比例的会议。"),
        Transition("elect", "选举产生", source=(S.ASSEMBLY_HELD,), target=S.ELECTED,
                   roles=SELF_GOV_EDITORS, guard="guard_elect",
                   params=(Param("election_date", "选举日期", "date"),)),
        Transition("file", "备案", source=(S.ELECTED,), target=S.IN_OFFICE,
                   roles=(Role.STREET_STAFF,), guard="guard_file",
                   params=(Param("filing_date", "备案日期", "date"),
                           Param("filing_opinion", "街道审核意见", "textarea"),
                           Param("term_start", "任期开始", "date",
                                 default=lambda c: c.election_date),
                           Param("term_end", "任期届满", "date",
                                 default=lambda c: _years_later(c.election_date, TERM_YEARS)))),
        Transition("start_re_election", "启动换届", source=(S.IN_OFFICE,), target=S.RE_ELECTING,
                   roles=SELF_GOV_EDITORS,
                   params=(Param("re_election_started_on", "启动日期", "date"),)),
        Transition("hand_over", "移交新一届", source=(S.RE_ELECTING,), target=S.HANDED_OVER,
                   roles=SELF_GOV_EDITORS, guard="guard_hand_over",
                   params=(Param("handover_date", "移交日期", "date"),
                           Param("handover_note", "移交情况", "textarea", required=False))),
    ),
    clocks=(FILING, RE_ELECTION),
)


def _years_later(day: date | None, years: int) -> date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year + years) - timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class OwnersCommittee(TimestampMixin, db.Model):
    """业主委员会, one row per term (届)."""

    __tablename__ = "owners_committee"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    term_no: Mapped[int] = field(Integer, "届次", default=1, min=1, max=99)
    state: Mapped[CommitteeState] = field(ChoiceType(CommitteeState), "状态",
                                          default=CommitteeState.PREPARING, index=True)
    prepared_on: Mapped[date] = field(Date, "筹备组成立日期")
    community_rep: Mapped[str] = field(String(40), "筹备组社区代表",
                                       help="社区居委会派代表参加筹备工作（篇5 二(一)3(1)）")
    first_assembly_id: Mapped[int | None] = field(ForeignKey("assembly_meeting.id"), "选举所在业主大会")
    election_date: Mapped[date | None] = field(Date, "选举日期")
    filing_due_on: Mapped[date | None] = field(Date, "备案期限")
    filing_date: Mapped[date | None] = field(Date, "备案日期")
    filing_opinion: Mapped[str | None] = field(Text, "街道审核意见")
    term_start: Mapped[date | None] = field(Date, "任期开始")
    term_end: Mapped[date | None] = field(Date, "任期届满")
    re_election_due_on: Mapped[date | None] = field(Date, "换届启动期限")
    re_election_started_on: Mapped[date | None] = field(Date, "换届启动日期")
    handover_date: Mapped[date | None] = field(Date, "移交日期")
    handover_note: Mapped[str | None] = field(Text, "移交情况")
    predecessor_id: Mapped[int | None] = field(ForeignKey("owners_committee.id"), "上一届")

    estate: Mapped[Estate] = relation("小区")
    first_assembly: Mapped[AssemblyMeeting | None] = relation("选举所在业主大会")
    predecessor: Mapped["OwnersCommittee | None"] = relation("上一届", remote_side=[id])
    members: Mapped[list["CommitteeMember"]] = relation(
        "委员", back_populates="committee", cascade="all, delete-orphan")

    filing_overdue = FILING.flag("逾期未备案")
    re_election_due = RE_ELECTION.flag("届满前90天未启动换届")

    __table_args__ = (UniqueConstraint("estate_id", "term_no"),)

    __admin__ = ModelAdmin(
        label="业主委员会", category="小区与自治", menu_order=40,
        list_columns=("estate.name", "term_no", "state", "election_date", "filing_date",
                      "term_end", "filing_overdue", "re_election_due"),
        search=("community_rep", "filing_opinion"),
        filters=("state", "estate", "filing_overdue", "re_election_due", "term_end"),
        sort="estate_id",
        form_columns=("estate", "term_no", "prepared_on", "community_rep", "filing_opinion",
                      "term_start", "term_end", "handover_note"),
        details_columns=("estate", "term_no", "state", "prepared_on", "community_rep",
                         "first_assembly", "election_date", "filing_due_on", "filing_date",
                         "filing_opinion", "term_start", "term_end", "re_election_due_on",
                         "re_election_started_on", "handover_date", "handover_note",
                         "predecessor", "members", "filing_overdue", "re_election_due"),
        inline=("members",),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="estate_id",
        lookup=("title",),  # what people call it: 永乐花园第1届业主委员会
        workflow=COMMITTEE_WORKFLOW,
    )

    def __str__(self) -> str:
        return f"{self.estate_name or ''}第{self.term_no}届业主委员会"

    # -- guards: None, or why not ------------------------------------------------

    def _qualifying_meeting(self) -> AssemblyMeeting | None:
        stmt = select(AssemblyMeeting).where(
            AssemblyMeeting.estate_id == self.estate_id,
            AssemblyMeeting.held_on >= self.prepared_on).order_by(AssemblyMeeting.held_on.desc())
        if self.term_no == 1:  # the first committee is elected by the first assembly
            stmt = stmt.where(AssemblyMeeting.kind == MeetingKind.FIRST)
        return next((m for m in db.session.scalars(stmt) if m.quorum_met), None)

    def _sitting(self) -> "OwnersCommittee | None":
        """Another committee of the estate in office, its re-election not started."""
        return db.session.scalar(select(OwnersCommittee).where(
            OwnersCommittee.estate_id == self.estate_id, OwnersCommittee.id != self.id,
            OwnersCommittee.state == CommitteeState.IN_OFFICE))

    def guard_hold_assembly(self) -> str | None:
        if not (self.community_rep or "").strip():
            return "筹备组须有社区居委会派出的代表"
        if self._qualifying_meeting() is None:
            if self.term_no == 1:
                return ("筹备组成立后尚无参与表决达到法定比例（三分之二）的首次业主大会会议记录"
                        "（第1届业主委员会由首次业主大会选举产生）")
            return "筹备组成立后尚无参与表决达到法定比例（三分之二）的业主大会会议记录"
        return None

    def guard_elect(self) -> str | None:
        sitting = self._sitting()
        if sitting is not None:
            return f"{sitting}仍在履职且未启动换届，不能另选一届"
        elected = [m for m in self.members if m.post in ELECTED_POSTS]
        directors = [m for m in elected if m.post == CommitteePost.DIRECTOR]
        if not 5 <= len(elected) <= 11 or len(elected) % 2 == 0:
            return f"业主委员会委员应为 5 至 11 人的单数（当前 {len(elected)} 人）"
        if len(directors) != 1:
            return f"须有且只有一名主任（当前 {len(directors)} 名）"
        return None

    def guard_file(self) -> str | None:
        sitting = self._sitting()
        if sitting is not None:
            return f"{sitting}仍在履职且未启动换届，同一小区不能有两届业主委员会同时履职"
        return None

    def guard_hand_over(self) -> str | None:
        if self.successor() is None:
            return f"第{self.term_no + 1}届业主委员会尚未备案履职"
        return None

    def successor(self) -> "OwnersCommittee | None":
        return db.session.scalar(select(OwnersCommittee).where(
            OwnersCommittee.estate_id == self.estate_id, OwnersCommittee.term_no == self.term_no + 1,
            OwnersCommittee.state == CommitteeState.IN_OFFICE))

    # -- effects: what each transition writes --------------------------------------

    def hold_assembly(self) -> None:
        self.first_assembly = self._qualifying_meeting()

    def elect(self, election_date: date) -> None:
        self.election_date = election_date

    def file(self, filing_date: date, filing_opinion: str, term_start: date, term_end: date) -> None:
        self.filing_date, self.filing_opinion = filing_date, filing_opinion
        self.term_start, self.term_end = term_start, term_end

    def start_re_election(self, re_election_started_on: date) -> None:
        self.re_election_started_on = re_election_started_on

    def hand_over(self, handover_date: date, handover_note: str | None = None) -> None:
        self.handover_date, self.handover_note = handover_date, handover_note
        self.successor().predecessor = self

    def clean(self) -> None:
        today = now().date()
        errors: dict[str, str] = {}
        order = [("prepared_on", "筹备组成立日期"), ("election_date", "选举日期"),
                 ("filing_date", "备案日期")]
        for (a, la), (b, lb) in zip(order, order[1:]):
            if getattr(self, a) and getattr(self, b) and getattr(self, b) < getattr(self, a):
                errors[b] = f"{lb}不能早于{la}"
        for name, label in (("prepared_on", "筹备组成立日期"), ("election_date", "选举日期"),
                            ("filing_date", "备案日期"), ("handover_date", "移交日期")):
            value = getattr(self, name)
            if value and value > today:
                errors[name] = f"{label}不能晚于今天"
        if self.term_start and self.term_end:
            if self.term_end <= self.term_start:
                errors["term_end"] = "任期届满日期须晚于任期开始日期"
            elif _years_later(self.term_start, TERM_YEARS) < self.term_end:
                errors["term_end"] = f"每届任期不超过 {TERM_YEARS} 年"
        if self.first_assembly and self.election_date and self.election_date < self.first_assembly.held_on:
            errors["election_date"] = "选举日期不能早于业主大会召开日期"
        if errors:
            raise Invalid(errors)


class CommitteePost(Choices):
    DIRECTOR = "director", "主任"
    DEPUTY = "deputy", "副主任"
    MEMBER = "member", "委员"
    PREPARATORY = "preparatory", "筹备组成员"


ELECTED_POSTS = (CommitteePost.DIRECTOR, CommitteePost.DEPUTY, CommitteePost.MEMBER)


def _building_number(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*(号楼|幢|栋|号)?\s*", text or "")
    return int(match.group(1)) if match else None


class CommitteeMember(TimestampMixin, db.Model):
    """A member of an owners' committee (or its preparatory group): an owner, so with
    a unit (building and room) in that estate."""

    __tablename__ = "committee_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = field(ForeignKey("owners_committee.id"), "业主委员会", index=True)
    name: Mapped[str] = field(String(40), "姓名")
    post: Mapped[CommitteePost] = field(ChoiceType(CommitteePost), "职务")
    building: Mapped[str | None] = field(String(20), "楼幢", help="如：3 或 3号楼")
    room: Mapped[str | None] = field(String(20), "房号", help="如：502")
    phone: Mapped[str | None] = field(String(40), "联系电话")

    committee: Mapped[OwnersCommittee] = relation("业主委员会", back_populates="members")

    __admin__ = ModelAdmin(
        label="业主委员会委员", category="小区与自治", importable=True, menu_order=41,
        list_columns=("name", "post", "building", "room", "phone", "committee"),
        search=("name", "phone"), filters=("post", "committee"), sort="name",
        form_columns=("committee", "name", "post", "building", "room", "phone"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="committee.estate_id",
    )

    def __str__(self) -> str:
        return f"{self.name}（{self.post.label}）" if self.post else self.name

    def clean(self) -> None:
        errors = {}
        if not (self.building or "").strip():
            errors["building"] = "业主委员会委员须为本小区业主，请填写所在楼幢"
        if not (self.room or "").strip():
            errors["room"] = "业主委员会委员须为本小区业主，请填写房号"
        estate = self.committee.estate if self.committee else None
        number = _building_number(self.building)
        if estate is not None and estate.buildings and number is not None and number > estate.buildings:
            errors["building"] = f"{estate}只有 {estate.buildings} 幢楼，没有第 {number} 幢"
        if errors:
            raise Invalid(errors)


# Names of the estate, loaded with the row: str() of a meeting or committee in a list,
# a dropdown or a look-up costs no extra query.
AssemblyMeeting.estate_name = figure("小区", select(Estate.name).where(
    Estate.id == AssemblyMeeting.estate_id).correlate_except(Estate), internal=True)
OwnersCommittee.estate_name = figure("小区", select(Estate.name).where(
    Estate.id == OwnersCommittee.estate_id).correlate_except(Estate), internal=True)
# The name str() gives, in SQL: a member's form finds the committee by its estate, and
# spreadsheets name it the same way in and out.
OwnersCommittee.title = figure("业主委员会", select(
    Estate.name + "第" + db.cast(OwnersCommittee.term_no, String) + "届业主委员会").where(
    Estate.id == OwnersCommittee.estate_id).correlate_except(Estate), internal=True)

OwnersCommittee.member_count = figure(
    "委员人数", select(db.func.count(CommitteeMember.id)).where(
        CommitteeMember.committee_id == OwnersCommittee.id,
        CommitteeMember.post.in_([p.value for p in ELECTED_POSTS])).correlate_except(CommitteeMember))
