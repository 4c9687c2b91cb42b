"""Supervision as a closed loop: inspect, find, order a rectification, verify, report;
indicators as figures; annual assessments."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from models import db, now
from models.assessment import Assessment
from models.estates import CompanyReview, Estate
from models.supervision import (FourInOneGroup, FourInOneMember, Indicator, Inspection, Rectification,
                                RectState, ReportState)

from .helpers import Client, flashes, row_id, transition

TODAY = now().date()


def indicator_id(app, name: str) -> int:
    return row_id(app, Indicator, name=name)


def estate_of(app, name: str) -> int:
    return row_id(app, Estate, name=name)


def member_of(app, estate: str, kind: str = "owner") -> int:
    with app.app_context():
        return db.session.scalar(db.select(FourInOneMember.id).join(FourInOneMember.group).join(FourInOneGroup.estate)
                                 .where(Estate.name == estate, FourInOneMember.kind == kind))


def latest_inspection(app, estate_id: int) -> Inspection:
    with app.app_context():
        row = db.session.scalar(db.select(Inspection).where(Inspection.estate_id == estate_id)
                                .order_by(Inspection.id.desc()))
        db.session.expunge(row)
        return row


def test_the_25_indicators_with_the_texts_targets(app, client_for):
    with app.app_context():
        rows = {i.name: i for i in db.session.scalars(db.select(Indicator).where(Indicator.is_reference))}
    assert len(rows) == 25
    assert rows["房屋零修、急修及时率"].target_text == "≥ 99%"
    assert rows["管理费收缴率"].target_text == "≥ 98%"
    assert rows["小区内治安案件发生率"].target_text == "≤ 1次/年"
    assert rows["业主(住户)对物业管理综合满意率"].target_text == "≥ 98%"
    assert rows["维修服务回访率"].source.value == "computed"
    page = client_for("street").get("/admin/indicator/?page_size=50").text
    assert page.count('<td class="col-name">') == 25


def inspect(client, app, estate: str, values: dict[str, str], kind="routine", day=None, extra=None):
    data = {"estate": str(estate_of(app, estate)), "inspected_on": (day or TODAY).isoformat(), "kind": kind,
            "findings": "楼道灯损坏"}
    for i, (name, value) in enumerate(values.items()):
        data[f"items-{i}-indicator"] = str(indicator_id(app, name))
        data[f"items-{i}-value"] = value
    data.update(extra or {})
    return client.post("/admin/inspection/new/", data)


def test_inspect_rectify_go_late_verify_and_the_standing_follows(app, client_for):
    committee = client_for("committee")           # 永乐花园's four-in-one group, owner representative
    yongle = estate_of(app, "永乐花园")
    standing_url = f"/admin/standing/?level=estate&key={yongle}&start={TODAY - timedelta(days=20)}&end={TODAY}"

    # 1. record an inspection: the recorder is an inspector; a reading misses its target
    r = inspect(committee, app, "永乐花园", {"路灯完好率": "95", "绿化完好率": "99.5"},
                day=TODAY - timedelta(days=1))
    assert r.status_code == 302, flashes(r.text)
    inspection = latest_inspection(app, yongle)
    with app.app_context():
        assert [m.user.username for m in db.session.get(Inspection, inspection.id).members] == ["committee"]
    row = _standing_row(committee.get(standing_url).text, "路灯完好率")
    assert "table-danger" in row and "95.00%" in row
    assert "table-success" in _standing_row(committee.get(standing_url).text, "绿化完好率")

    # 2. raise a rectification with a deadline that has passed: flagged at once
    r = committee.post("/admin/rectification/new/", {
        "inspection": str(inspection.id), "finding": "3号楼楼道灯损坏", "responsible": "company",
        "raised_on": (TODAY - timedelta(days=1)).isoformat(), "deadline": (TODAY - timedelta(days=1)).isoformat()})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        rect = db.session.scalar(db.select(Rectification).where(Rectification.finding == "3号楼楼道灯损坏"))
        rect_id = rect.id
        assert rect.estate_id == yongle
        assert db.session.scalar(db.select(Rectification.overdue).where(Rectification.id == rect_id))
    home = committee.get("/admin/").text
    assert "3号楼楼道灯损坏" in home and "（已逾期）" in home            # their open rectifications first
    assert re.search(r"整改：逾期未整改</a>\s*<span[^>]*>[1-9]", home)

    # 3. the company replies; still late until verified
    transition(committee, "rectification", "answer", rect_id, reply="已更换", replied_on=TODAY)
    with app.app_context():
        assert db.session.scalar(db.select(Rectification.overdue).where(Rectification.id == rect_id))

    # 4. verified: no longer overdue, recorded as completed late
    transition(committee, "rectification", "verify", rect_id, verified_on=TODAY, verifier="业主 马骏")
    with app.app_context():
        rect = db.session.get(Rectification, rect_id)
        assert rect.state == RectState.VERIFIED and rect.late_verified
        assert not db.session.scalar(db.select(Rectification.overdue).where(Rectification.id == rect_id))

    # 5. a new inspection shows the fix; the report goes to the street office
    inspect(committee, app, "永乐花园", {"路灯完好率": "100"}, day=TODAY)
    assert "table-success" in _standing_row(committee.get(standing_url).text, "路灯完好率")
    latest = latest_inspection(app, yongle)
    transition(committee, "inspection", "submit", latest.id, submitted_on=TODAY)
    assert transition(committee, "inspection", "receive", latest.id, received_on=TODAY).status_code == 403
    transition(client_for("street"), "inspection", "receive", latest.id, received_on=TODAY)
    assert latest_inspection(app, yongle).state == ReportState.RECEIVED


def _standing_row(page: str, name: str) -> str:
    return re.search(rf'<tr data-code="[^"]*" data-name="{re.escape(name)}"\s+class="[^"]*">.*?</tr>',
                     page, re.S).group(0)


@pytest.mark.parametrize("values, message", [
    ({"路灯完好率": "130"}, "路灯完好率是百分比，不能超过 100%"),
    ({"小区内治安案件发生率": "-1"}, "小区内治安案件发生率不能为负数"),
    ({"小区内治安案件发生率": "1.5"}, "是次数，应为整数"),
    ({"维修服务回访率": "50"}, "由记录计算，不能在检查中填写"),
])
def test_impossible_readings_are_refused_with_the_field_named(app, client_for, values, message):
    committee = client_for("committee")
    before = _count(app, Inspection)
    r = inspect(committee, app, "永乐花园", values)
    assert r.status_code == 200 and message in " ".join(flashes(r.text))
    assert _count(app, Inspection) == before


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_an_inspector_outside_the_estates_group_is_refused(app, client_for):
    street = client_for("street")
    stranger = member_of(app, "后溪公寓小区")
    before = _count(app, Inspection)
    r = inspect(street, app, "永乐花园", {"路灯完好率": "100"}, extra={"members": str(stranger)})
    assert r.status_code == 200
    assert "不是永乐花园四位一体监督小组的成员" in " ".join(flashes(r.text))
    assert _count(app, Inspection) == before


def test_a_committee_member_cannot_record_for_another_groups_estate(app, client_for):
    committee = client_for("committee")
    other = estate_of(app, "后溪公寓小区")
    before = _count(app, Inspection)
    # the form: the estate is not offered, and a posted id is refused
    assert committee.get("/admin/inspection/ajax/lookup/?name=estate&query=后溪").get_json() == []
    r = inspect(committee, app, "后溪公寓小区", {"路灯完好率": "100"})
    assert r.status_code == 200 and "不在您的管辖范围内" in r.text
    assert _count(app, Inspection) == before
    # a crafted edit or delete of that estate's inspection
    theirs = latest_inspection(app, other)
    r = committee.post(f"/admin/inspection/edit/?id={theirs.id}", {
        "estate": str(other), "inspected_on": TODAY.isoformat(), "kind": "routine", "findings": "篡改"})
    assert r.status_code == 404
    assert committee.post("/admin/inspection/action/", {"action": "delete", "rowid": str(theirs.id)}).status_code in (403, 404)
    assert transition(committee, "inspection", "submit", theirs.id, submitted_on=TODAY).status_code == 404
    assert latest_inspection(app, other).findings == theirs.findings


def test_a_rectification_deadline_before_the_finding_is_refused(app, client_for):
    committee = client_for("committee")
    inspection = latest_inspection(app, estate_of(app, "永乐花园"))
    r = committee.post("/admin/rectification/new/", {
        "inspection": str(inspection.id), "finding": "期限有误", "responsible": "company",
        "raised_on": inspection.inspected_on.isoformat(),
        "deadline": (inspection.inspected_on - timedelta(days=1)).isoformat()})
    assert r.status_code == 200 and "整改期限不能早于提出日期" in r.text
    with app.app_context():
        assert db.session.scalar(db.select(Rectification).where(Rectification.finding == "期限有误")) is None


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("content, filename, message", [
    (b"MZ\x90\x00 not an image", "照片.png", "文件类型不符"),
    (PNG + b"\x00" * (5 * 1024 * 1024), "大照片.png", "文件过大"),
    (PNG, "照片.exe", "无效文件扩展名"),
])
def test_photos_must_be_small_images(app, client_for, content, filename, message):
    committee = client_for("committee")
    before = _count(app, Inspection)
    r = inspect(committee, app, "永乐花园", {"路灯完好率": "100"},
                extra={"photos-0-path": (io.BytesIO(content), filename), "photos-0-caption": "楼道"})
    assert r.status_code == 200
    assert message in r.text
    assert _count(app, Inspection) == before


def test_a_photo_is_kept_and_served_only_within_scope(app, client_for):
    committee = client_for("committee")
    r = inspect(committee, app, "永乐花园", {"路灯完好率": "100"},
                extra={"photos-0-path": (io.BytesIO(PNG), "楼道照片.png"), "photos-0-caption": "楼道"})
    assert r.status_code == 302, flashes(r.text)
    from models.supervision import InspectionPhoto
    with app.app_context():
        photo = db.session.scalar(db.select(InspectionPhoto).order_by(InspectionPhoto.id.desc()))
        photo_id, stored = photo.id, photo.path
    assert stored.endswith(".png") and "楼道" not in stored          # a random name, never the user's
    served = committee.get(f"/admin/inspection_photo/file/?id={photo_id}&column=path")
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    result = app.test_cli_runner().invoke(args=["users", "create", "hongshan", "--role", "community_staff",
                                                "--community", "红山社区", "--password", "secret123"])
    assert result.exit_code == 0, result.output
    outsider = Client(app).login("hongshan", "secret123")
    assert outsider.get(f"/admin/inspection_photo/file/?id={photo_id}&column=path").status_code == 404


def test_cleaning_checks_short_of_four_a_month_are_flagged(client_for):
    page = client_for("street").get("/admin/standing/").text
    table = re.search(r'id="cleaning-shortfalls".*?</table>', page, re.S).group(0)
    assert "贮木场新村" in table and "永乐花园" not in table


def test_the_assessment_sheet_prints_with_scores_and_outcome(app, client_for):
    with app.app_context():
        sheet = db.session.scalar(db.select(Assessment).where(Assessment.state == "final").limit(1))
        sheet_id, total, outcome, name = sheet.id, sheet.total_score, sheet.outcome.label, sheet.subject_name
    page = client_for("leader").get(f"/admin/assessment/print/?id={sheet_id}")
    assert page.status_code == 200
    assert f"{TODAY.year - 1}年度社区物业管理工作考评表" in page.text and name in page.text
    assert re.search(rf'class="num total">{int(total)}</th>', page.text)
    assert f'class="outcome">{outcome}' in page.text
    assert "E+" not in page.text
    assert client_for("committee").get(f"/admin/assessment/print/?id={sheet_id}").status_code in (403, 404)


def test_finalising_a_company_assessment_passes_the_opinion_to_its_annual_review(app, client_for):
    street = client_for("street")
    with app.app_context():
        sheet = db.session.scalar(db.select(Assessment).where(Assessment.state == "draft", Assessment.company_id.isnot(None)))
        sheet_id, company_id, year = sheet.id, sheet.company_id, sheet.year
    r = transition(street, "assessment", "finalize", sheet_id, assessed_on=TODAY, outcome="correct",
                   opinion="投诉处理不及时")
    assert "考评结果为限期改正时须填写改正期限" in r.text
    transition(street, "assessment", "finalize", sheet_id, assessed_on=TODAY, outcome="correct",
               opinion="投诉处理不及时", correction_deadline=(TODAY + timedelta(days=60)).isoformat())
    with app.app_context():
        review = db.session.scalar(db.select(CompanyReview).where(
            CompanyReview.company_id == company_id, CompanyReview.year == year))
        assert review.rating.label == "基本合格" and review.opinion == "投诉处理不及时"


def test_a_score_above_its_weight_is_refused(app, client_for):
    street = client_for("street")
    with app.app_context():
        sheet_id = db.session.scalar(db.select(Assessment.id).where(Assessment.state == "draft"))
    r = street.post("/admin/assessment_item/new/", {"assessment": str(sheet_id), "seq": "9", "item": "加分项",
                                                    "weight": "5", "score": "6"})
    assert r.status_code == 200 and "得分不能超过该项分值（5）" in r.text
