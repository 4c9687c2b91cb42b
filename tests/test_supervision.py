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
from models.supervision import FourInOneGroup, FourInOneMember, Indicator
from models.inspections import Inspection, Rectification, RectState, ReportState

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
    # a period of its own, long before the demo's inspections, so only this test's readings count
    day = TODAY - timedelta(days=195)
    standing_url = (f"/admin/standing/?level=estate&key={yongle}&start={day - timedelta(days=5)}"
                    f"&end={day + timedelta(days=5)}")

    def lamp() -> str:
        """路灯完好率 on the estate's standing: the row's colour and value."""
        return _standing_row(committee.get(standing_url).text, "路灯完好率")

    def overdue_on_home() -> int:
        home = committee.get("/admin/").text
        return int(re.search(r"整改：逾期未整改</a>\s*<span[^>]*>(\d+)", home).group(1))

    baseline = overdue_on_home()
    assert "—（无数据）" in lamp()

    # 1. record an inspection: the recorder is an inspector; a reading misses its target
    r = inspect(committee, app, "永乐花园", {"路灯完好率": "95", "绿化完好率": "99.5"}, day=day)
    assert r.status_code == 302, flashes(r.text)
    inspection = latest_inspection(app, yongle)
    with app.app_context():
        assert [m.user.username for m in db.session.get(Inspection, inspection.id).members] == ["committee"]
    assert "table-danger" in lamp() and "95.00%" in lamp()
    assert "table-success" in _standing_row(committee.get(standing_url).text, "绿化完好率")
    assert overdue_on_home() == baseline

    # 2. raise a rectification whose deadline has passed: flagged at once
    r = committee.post("/admin/rectification/new/", {
        "inspection": str(inspection.id), "finding": "3号楼楼道灯损坏", "responsible": "company",
        "raised_on": day.isoformat(), "deadline": (day + timedelta(days=7)).isoformat()})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        rect = db.session.scalar(db.select(Rectification).where(Rectification.finding == "3号楼楼道灯损坏"))
        rect_id = rect.id
        assert rect.estate_id == yongle
    home = committee.get("/admin/").text
    assert "3号楼楼道灯损坏" in home and "（已逾期）" in home
    assert overdue_on_home() == baseline + 1
    assert "table-danger" in lamp()                       # a rectification ordered is not a fix

    # 3. the company replies: still late until an inspector verifies it
    r = transition(committee, "rectification", "answer", rect_id, reply="已更换", replied_on=TODAY)
    assert r.status_code == 302, flashes(r.text)
    assert overdue_on_home() == baseline + 1
    assert "table-danger" in lamp()

    # 4. verified by the member recording it (left blank: recorded as themself)
    r = transition(committee, "rectification", "verify", rect_id, verified_on=TODAY)
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        rect = db.session.get(Rectification, rect_id)
        assert rect.state == RectState.VERIFIED and rect.late_verified
        assert rect.verifier == "业主 马骏" and rect.verifier_member.user.username == "committee"
    assert overdue_on_home() == baseline
    assert "table-danger" in lamp()                       # the standing waits for the next reading

    # 5. the next inspection shows the fix; the report goes to the street office
    inspect(committee, app, "永乐花园", {"路灯完好率": "100"}, day=day + timedelta(days=3))
    assert "table-success" in lamp() and "100.00%" in lamp()
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
    from models.inspections import InspectionPhoto
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


def cleaning_rows(client, month: str) -> dict[str, tuple[str, str]]:
    """The cleaning table of the standing page: estate -> (flagged, what it says)."""
    page = client.get(f"/admin/standing/?month={month}").text
    table = re.search(r'id="cleaning-shortfalls".*?</table>', page, re.S).group(0)
    rows = re.findall(r'<tr class="[^"]*" data-estate="([^"]+)" data-flagged="(yes|no)">(.*?)</tr>', table, re.S)
    return {name: (flagged, " ".join(re.sub(r"<[^>]+>", " ", cells).split())) for name, flagged, cells in rows}


def test_cleaning_checks_short_of_four_are_flagged_once_the_month_cannot_make_it_up(app, client_for, monkeypatch):
    """Four cleaning checks a month (篇2), for estates whose four-in-one group is active —
    here 永乐花园, 后溪公寓小区 and 贮木场新村. Dated in a past year, away from the demo's."""
    from datetime import date, datetime
    street = client_for("street")
    year = TODAY.year - 1

    def clean_check(estate: str, day: date) -> None:
        r = inspect(street, app, estate, {"清洁、保洁率": "99"}, kind="cleaning", day=day,
                    extra={"members": str(member_of(app, estate))})
        assert r.status_code == 302, flashes(r.text)

    for d in (2, 9, 16, 23):                            # May: four days
        clean_check("永乐花园", date(year, 5, d))
    for d in (3, 10, 10, 17):                           # four reports, but on three days
        clean_check("后溪公寓小区", date(year, 5, d))
    clean_check("永乐花园", date(year, 6, 2))
    clean_check("永乐花园", date(year, 6, 2))           # the same day twice: one check
    clean_check("后溪公寓小区", date(year, 6, 28))

    # as seen on 28 June: three days left (28, 29, 30)
    monkeypatch.setattr("models.standing.now", lambda: datetime(year, 6, 28, 9, 0))
    june = cleaning_rows(street, f"{year}-06")
    assert june["永乐花园"] == ("no", "永乐花园 江滨社区 1 本月已 1 次，还需 3 次（剩余 3 天）")
    assert june["后溪公寓小区"][0] == "yes"              # checked today; two days cannot make three more
    assert "本月已 1 次，剩余 2 天，已不能达到四次" in june["后溪公寓小区"][1]
    assert june["贮木场新村"][0] == "yes" and "本月已 0 次，剩余 3 天" in june["贮木场新村"][1]

    # May is over: below four is short, however it came about
    may = cleaning_rows(street, f"{year}-05")
    assert "永乐花园" not in may
    assert may["后溪公寓小区"] == ("yes", "后溪公寓小区 后溪洋社区 3 不足四次")
    assert may["贮木场新村"] == ("yes", "贮木场新村 黄山社区 0 不足四次")
    # estates whose group is not active are not supervised this way
    assert "黄山新村一路" not in may and "双龙小区" not in may

    # early in the month nothing is flagged yet: every estate still has time
    monkeypatch.setattr("models.standing.now", lambda: datetime(year, 6, 1, 9, 0))
    assert all(flagged == "no" for flagged, _ in cleaning_rows(street, f"{year}-06").values())


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


# -- a report sent to the street is the street's record --------------------------------


def test_a_reported_inspection_its_readings_and_photos_are_read_only(app, client_for):
    committee, street = client_for("committee"), client_for("street")
    yongle = estate_of(app, "永乐花园")
    r = inspect(committee, app, "永乐花园", {"路灯完好率": "95"},
                extra={"photos-0-path": (io.BytesIO(PNG), "楼道.png"), "photos-0-caption": "楼道"})
    assert r.status_code == 302, flashes(r.text)
    inspection = latest_inspection(app, yongle)
    with app.app_context():
        row = db.session.get(Inspection, inspection.id)
        item_id, photo_id, me = row.items[0].id, row.photos[0].id, row.members[0].id
    form = {"estate": str(yongle), "inspected_on": TODAY.isoformat(), "kind": "routine",
            "members": str(me), "findings": "楼道灯损坏"}
    # while a draft, the committee may correct it
    r = committee.post(f"/admin/inspection/edit/?id={inspection.id}", {**form, "findings": "楼道灯损坏两处"})
    assert r.status_code == 302, flashes(r.text)
    form["findings"] = "楼道灯损坏两处"
    # and replace a photo: the old file goes once the new one is saved
    from pathlib import Path
    old_file = Path(app.instance_path, "photos", _photo_path(app, photo_id))
    assert old_file.exists()
    r = committee.post(f"/admin/inspection_photo/edit/?id={photo_id}", {
        "inspection": str(inspection.id), "path": (io.BytesIO(PNG), "重拍.png"), "caption": "楼道"})
    assert r.status_code == 302, flashes(r.text)
    assert not old_file.exists() and Path(app.instance_path, "photos", _photo_path(app, photo_id)).exists()
    transition(committee, "inspection", "submit", inspection.id, submitted_on=TODAY)

    def refused(response, message="该检查已报送街道，不能再修改") -> None:
        assert message in " ".join(flashes(response.text)), flashes(response.text)

    def unchanged() -> None:
        with app.app_context():
            row = db.session.get(Inspection, inspection.id)
            assert row.findings == "楼道灯损坏两处"
            assert [(i.indicator.name, i.value) for i in row.items] == [("路灯完好率", 95)]
            assert [p.caption for p in row.photos] == ["楼道"]

    # the edit screen, and the readings inside it
    refused(committee.post(f"/admin/inspection/edit/?id={inspection.id}", {**form, "findings": "无问题"}))
    refused(committee.post(f"/admin/inspection/edit/?id={inspection.id}", {
        **form, "items-0-id": str(item_id), "items-0-indicator": str(indicator_id(app, "路灯完好率")),
        "items-0-value": "100"}))
    # crafted POSTs to the readings and photos themselves
    lamp, green = indicator_id(app, "路灯完好率"), indicator_id(app, "绿化完好率")
    refused(committee.post("/admin/inspection_item/new/", {
        "inspection": str(inspection.id), "indicator": str(green), "value": "80"}))
    refused(committee.post(f"/admin/inspection_item/edit/?id={item_id}", {
        "inspection": str(inspection.id), "indicator": str(lamp), "value": "100"}))
    refused(committee.post("/admin/inspection_item/delete/", {"id": str(item_id)}, follow_redirects=True),
            "不能删除路灯完好率：95.00：该检查已报送街道，不能删除其中的内容")
    refused(committee.post("/admin/inspection_photo/new/", {
        "inspection": str(inspection.id), "path": (io.BytesIO(PNG), "另一张.png"), "caption": "补拍"}))
    refused(committee.post(f"/admin/inspection_photo/edit/?id={photo_id}", {
        "inspection": str(inspection.id), "path": (io.BytesIO(PNG), "换一张.png"), "caption": "改过的说明"}))
    refused(committee.post("/admin/inspection_photo/delete/", {"id": str(photo_id)}, follow_redirects=True),
            "该检查已报送街道，不能删除其中的内容")
    unchanged()
    served = committee.get(f"/admin/inspection_photo/file/?id={photo_id}&column=path")
    assert served.status_code == 200 and served.data == PNG   # a refused new file left the old one

    # received: not even the street edits or deletes it
    transition(street, "inspection", "receive", inspection.id, received_on=TODAY)
    refused(street.post(f"/admin/inspection/edit/?id={inspection.id}", {**form, "findings": "无问题"}),
            "该检查街道已接收，不能再修改")
    refused(street.post("/admin/inspection/delete/", {"id": str(inspection.id)}, follow_redirects=True),
            "该检查街道已接收，不能删除")
    unchanged()

    # the street sends it back, saying why; then it can be corrected and reported again
    r = transition(street, "inspection", "return_draft", inspection.id)
    assert r.status_code == 200 and "请填写「退回原因」" in r.text
    transition(street, "inspection", "return_draft", inspection.id, returned_reason="检查值须复核")
    returned = latest_inspection(app, yongle)
    assert returned.state == ReportState.DRAFT and returned.returned_reason == "检查值须复核"
    assert returned.received_on is None and returned.submitted_on is None
    r = committee.post(f"/admin/inspection_item/edit/?id={item_id}", {
        "inspection": str(inspection.id), "indicator": str(lamp), "value": "97"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert db.session.get(Inspection, inspection.id).items[0].value == 97
    # a draft may be deleted by the street office, its readings and photos with it
    r = street.post("/admin/inspection/delete/", {"id": str(inspection.id)}, follow_redirects=True)
    assert r.status_code == 200, flashes(r.text)
    with app.app_context():
        assert db.session.get(Inspection, inspection.id) is None


def _photo_path(app, photo_id: int) -> str:
    from models.inspections import InspectionPhoto
    with app.app_context():
        return db.session.get(InspectionPhoto, photo_id).path


# -- rectifications: a fixed deadline, verified by an inspector ------------------------------


def open_rectification(app, client, estate: str = "永乐花园", replied: bool = True) -> int:
    inspection = latest_inspection(app, estate_of(app, estate))
    r = client.post("/admin/rectification/new/", {
        "inspection": str(inspection.id), "finding": "消防通道堆放杂物", "responsible": "company",
        "raised_on": inspection.inspected_on.isoformat(),
        "deadline": (inspection.inspected_on + timedelta(days=3)).isoformat()})
    assert r.status_code == 302, flashes(r.text)
    rect_id = row_id(app, Rectification, finding="消防通道堆放杂物")
    if replied:
        transition(client, "rectification", "answer", rect_id, reply="已清理", replied_on=TODAY)
    return rect_id


def rect(app, rect_id: int) -> Rectification:
    with app.app_context():
        row = db.session.get(Rectification, rect_id)
        db.session.expunge(row)
        return row


def test_the_deadline_cannot_be_moved_to_clear_the_late_flag(app, client_for):
    street = client_for("street")
    rect_id = open_rectification(app, street, replied=False)
    before = rect(app, rect_id)
    r = street.post(f"/admin/rectification/edit/?id={rect_id}", {
        "inspection": str(before.inspection_id), "finding": before.finding, "responsible": "company",
        "raised_on": before.raised_on.isoformat(), "deadline": (TODAY + timedelta(days=30)).isoformat()})
    assert r.status_code == 200
    assert "「整改期限」：整改期限提出后不能修改（是否逾期以原定期限为准）" in " ".join(flashes(r.text))
    assert rect(app, rect_id).deadline == before.deadline
    # the other fields may still be corrected
    r = street.post(f"/admin/rectification/edit/?id={rect_id}", {
        "inspection": str(before.inspection_id), "finding": "消防通道堆放杂物（2号楼）", "responsible": "company",
        "raised_on": before.raised_on.isoformat(), "deadline": before.deadline.isoformat()})
    assert r.status_code == 302, flashes(r.text)


def add_staff(app, client, community: str, name: str, unit_kind: str = "supervision_group") -> int:
    from models.governance import Community, OrgUnit
    with app.app_context():
        unit = db.session.scalar(db.select(OrgUnit.id).outerjoin(Community, Community.id == OrgUnit.community_id)
                                 .where(OrgUnit.kind == unit_kind,
                                        Community.name == community if community else OrgUnit.community_id.is_(None)))
    r = client.post("/admin/staff_member/new/", {"unit": str(unit), "name": name, "post": "监督员", "active": "y"})
    assert r.status_code == 302, flashes(r.text)
    from models.governance import StaffMember
    return row_id(app, StaffMember, name=name)


def test_verification_is_by_an_inspector_of_that_estate(app, client_for):
    street = client_for("street")
    rect_id = open_rectification(app, street)

    def verify(**who):
        return transition(street, "rectification", "verify", rect_id, verified_on=TODAY, **who)

    # nobody named: street staff are not a member of the group
    r = verify()
    assert r.status_code == 200 and "请选择验证人：本小区四位一体监督小组的成员，或所在社区物业管理监督小组的工作人员" in r.text
    # a member of another estate's group, a supervision-group member of another community,
    # staff of a station: all refused
    r = verify(verifier_member=member_of(app, "后溪公寓小区"))
    assert r.status_code == 200 and "业主 马骏不是永乐花园四位一体监督小组的成员" in r.text
    other = add_staff(app, street, "后溪洋社区", "监督员 吴刚")
    r = verify(verifier_staff=other)
    assert r.status_code == 200 and "监督员 吴刚不是江滨社区物业管理监督小组的工作人员" in r.text
    station = add_staff(app, street, None, "值班员 郑一", unit_kind="repair_station")
    r = verify(verifier_staff=station)
    assert r.status_code == 200 and "值班员 郑一不是江滨社区物业管理监督小组的工作人员" in r.text
    assert rect(app, rect_id).state == RectState.REPLIED

    # a member of 永乐花园's group, chosen by the street office
    r = verify(verifier_member=member_of(app, "永乐花园", "social_worker"))
    assert r.status_code == 302, flashes(r.text)
    done = rect(app, rect_id)
    assert done.state == RectState.VERIFIED and done.verifier == "社工 陈红"
    assert done.verifier_member_id == member_of(app, "永乐花园", "social_worker")


def test_supervision_group_staff_inspect_and_verify(app, client_for):
    street = client_for("street")
    ours = add_staff(app, street, "江滨社区", "监督员 黄磊")
    theirs = add_staff(app, street, "后溪洋社区", "监督员 吴刚")
    before = _count(app, Inspection)
    # staff of another community's supervision group may not inspect 永乐花园
    r = inspect(street, app, "永乐花园", {"路灯完好率": "100"}, extra={"staff": str(theirs)})
    assert r.status_code == 200 and "监督员 吴刚不是江滨社区物业管理监督小组的工作人员" in " ".join(flashes(r.text))
    assert _count(app, Inspection) == before
    # staff of its own community's group may, with no four-in-one member at all
    r = inspect(street, app, "永乐花园", {"路灯完好率": "100"}, extra={"staff": str(ours)})
    assert r.status_code == 302, flashes(r.text)
    inspection = latest_inspection(app, estate_of(app, "永乐花园"))
    with app.app_context():
        row = db.session.get(Inspection, inspection.id)
        assert [s.name for s in row.staff] == ["监督员 黄磊"] and row.members == []
    # and verify a rectification raised from it
    rect_id = open_rectification(app, street)
    r = transition(street, "rectification", "verify", rect_id, verified_on=TODAY, verifier_staff=ours)
    assert r.status_code == 302, flashes(r.text)
    done = rect(app, rect_id)
    assert done.state == RectState.VERIFIED and done.verifier == "监督员 黄磊" and done.verifier_staff_id == ours


# -- indicators: a computed one names a rate that exists ----------------------------------


def test_a_computed_indicator_names_one_of_the_rates_the_records_give(app, client_for):
    from models.rates import RateCode, service_rates
    street = client_for("street")
    base = {"seq": "30", "name": "自定义投诉处理率", "comparison": "ge", "target": "95", "unit": "percent",
            "source": "computed"}
    r = street.post("/admin/indicator/new/", {**base, "rate_code": "satisfaction_made_up"})
    assert r.status_code == 200 and "不是有效的选择" in r.text
    r = street.post("/admin/indicator/new/", base)
    assert r.status_code == 200 and "由记录计算的指标须选择计算口径" in r.text
    r = street.post("/admin/indicator/new/", {**base, "source": "measured", "rate_code": "complaint_handled"})
    assert r.status_code == 200 and "由监督检查测量的指标不选计算口径" in r.text
    assert row_id(app, Indicator, name="自定义投诉处理率") is None

    r = street.post("/admin/indicator/new/", {**base, "rate_code": "complaint_handled"})
    assert r.status_code == 302, flashes(r.text)
    page = street.get("/admin/standing/").text
    ours, reference = _standing_row(page, "自定义投诉处理率"), _standing_row(page, "有效投诉处理率")
    assert 'data-code="complaint_handled"' in ours
    value = lambda row: re.search(r'class="rate-value"><strong>(.*?)</strong>', row).group(1)
    assert value(ours) == value(reference)                # the same records, the same figure
    # every code offered is a rate the records give, and every rate is offered
    with app.app_context():
        assert {r.code for r in service_rates([], TODAY, TODAY)} == set(RateCode)


# -- annual assessment: final is final, until 退回重评 -------------------------------------


def sheet_of(app, **where) -> Assessment:
    with app.app_context():
        row = db.session.scalar(db.select(Assessment).filter_by(**where))
        row.items, row.total_score  # loaded before leaving the session
        db.session.expunge_all()
        return row


def test_a_final_sheet_and_its_items_are_read_only_until_reopened(app, client_for):
    from models.estates import PropertyCompany
    street = client_for("street")
    with app.app_context():
        draft = db.session.scalar(db.select(Assessment).where(Assessment.state == "draft",
                                                               Assessment.company_id.isnot(None)))
        sheet_id, company_id, year = draft.id, draft.company_id, draft.year
        company = db.session.get(PropertyCompany, company_id).name
    r = transition(street, "assessment", "finalize", sheet_id, assessed_on=TODAY, outcome="pass",
                   opinion="服务规范")
    assert r.status_code == 302, flashes(r.text)
    sheet = sheet_of(app, id=sheet_id)
    total, first = sheet.total_score, sheet.items[0]
    item_form = {"assessment": str(sheet_id), "seq": str(first.seq), "item": first.item,
                 "weight": str(first.weight), "score": str(first.score - 10)}
    locked = "该考评表已定稿，不能修改；如需更改，请先「退回重评」"

    def refused(response, message=locked) -> None:
        assert message in " ".join(flashes(response.text)), flashes(response.text)

    refused(street.post("/admin/assessment_item/new/", {
        "assessment": str(sheet_id), "seq": "9", "item": "加分项", "weight": "5", "score": "5"}))
    refused(street.post(f"/admin/assessment_item/edit/?id={first.id}", item_form))
    refused(street.post("/admin/assessment_item/delete/", {"id": str(first.id)}, follow_redirects=True),
            f"不能删除考评项目「{first.item}」：该考评表已定稿")
    refused(street.post("/admin/assessment_item/action/", {"action": "delete", "rowid": str(first.id)},
                        follow_redirects=True), "该考评表已定稿")
    sheet_form = {"year": str(year), "subject_kind": "company", "company": str(company_id),
                  "assessor": "街道物业办"}
    refused(street.post(f"/admin/assessment/edit/?id={sheet_id}", {
        **sheet_form, "items-0-id": str(first.id), "items-0-seq": str(first.seq), "items-0-item": first.item,
        "items-0-weight": str(first.weight), "items-0-score": str(first.score - 10)}))
    refused(street.post(f"/admin/assessment/edit/?id={sheet_id}", {**sheet_form, "assessor": "别人"}))
    refused(street.post("/admin/assessment/delete/", {"id": str(sheet_id)}, follow_redirects=True),
            "该考评表已定稿，不能删除")
    after = sheet_of(app, id=sheet_id)
    assert after.total_score == total and len(after.items) == len(sheet.items)
    assert after.state.value == "final" and after.outcome.value == "pass" and after.assessor == "街道物业办"

    # reopened, it has no outcome until it is finalised again — and the review follows
    transition(street, "assessment", "reopen", sheet_id)
    reopened = sheet_of(app, id=sheet_id)
    assert reopened.state.value == "draft" and reopened.outcome is None and reopened.assessed_on is None
    r = street.post(f"/admin/assessment_item/edit/?id={first.id}", item_form)
    assert r.status_code == 302, flashes(r.text)
    assert sheet_of(app, id=sheet_id).total_score == total - 10
    transition(street, "assessment", "finalize", sheet_id, assessed_on=TODAY, outcome="correct",
               opinion="服务质量下降", correction_deadline=(TODAY + timedelta(days=60)).isoformat())
    with app.app_context():
        review = db.session.scalar(db.select(CompanyReview).where(
            CompanyReview.company_id == company_id, CompanyReview.year == year))
        assert (review.rating.label, review.opinion) == ("基本合格", "服务质量下降"), company


def test_the_printed_sheet_shows_each_linked_indicators_figure(app, client_for):
    """The evidence beside an item: the indicator over the sheet's year for the subject's estates."""
    from datetime import date
    from models.governance import Community
    street, committee = client_for("street"), client_for("committee")
    year = TODAY.year - 2                                  # a year of its own, before the demo's records
    for day, value in ((date(year, 6, 10), "95"), (date(year, 9, 10), "97")):
        r = inspect(committee, app, "永乐花园", {"路灯完好率": value}, day=day)
        assert r.status_code == 302, flashes(r.text)
    r = street.post("/admin/assessment/new/", {"year": str(year), "subject_kind": "community",
                                               "community": str(row_id(app, Community, name="江滨社区")),
                                               "assessor": "街道物业办"})
    assert r.status_code == 302, flashes(r.text)
    sheet_id = row_id(app, Assessment, year=year, community_id=row_id(app, Community, name="江滨社区"))
    for seq, (item, indicator) in enumerate((("公共照明", "路灯完好率"), ("维修及时", "房屋零修、急修及时率")), 1):
        r = street.post("/admin/assessment_item/new/", {
            "assessment": str(sheet_id), "seq": str(seq), "item": item, "weight": "10", "score": "8",
            "indicator": str(indicator_id(app, indicator))})
        assert r.status_code == 302, flashes(r.text)
    page = street.get(f"/admin/assessment/print/?id={sheet_id}").text
    evidence = [" ".join(re.sub(r"<[^>]+>", "", e).split())
                for e in re.findall(r'class="indicator-evidence">(.*?)</span>', page, re.S)]
    assert evidence == [f"（指标：路灯完好率，{year}年检查值 97%，目标 = 100%，未达标）",   # the latest reading
                        f"（指标：房屋零修、急修及时率，{year}年无数据，目标 ≥ 99%）"]


def test_a_committee_member_sees_their_open_rectifications_first(app, client_for):
    committee = client_for("committee")
    open_rectification(app, committee, replied=False)
    home = committee.get("/admin/").text
    assert "消防通道堆放杂物" in home
    assert home.index('id="open-rectifications"') < home.index('id="stat-communities"') < home.index('id="attention"')
    street = client_for("street").get("/admin/").text      # the street office reads its overview first
    assert street.index('id="dashboard"') < street.index('id="open-rectifications"')
