"""A form's look-up finds a related record by what people call it — for records named
after their estate (a pilot, a meeting, a fund, a committee), by the estate's name; an
assessment sheet by the community or company it assesses."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("who, form, field, typed, found", [
    ("coordinator", "task", "pilot", "永乐", "试点：永乐花园"),
    ("coordinator", "pilot_milestone", "pilot", "永乐", "试点：永乐花园"),
    ("street", "resolution", "meeting", "永乐花园", "永乐花园 "),
    ("street", "fund_application", "fund", "滨江", "滨江花苑维修资金"),
    ("street", "fund_movement", "fund", "滨江", "滨江花苑维修资金"),
    ("street", "committee_member", "committee", "永乐花园", "永乐花园第1届业主委员会"),
    ("coordinator", "task", "meeting", "领导小组会议", " 领导小组会议"),
    ("street", "assessment_item", "assessment", "江滨社区", "年度考评：江滨社区"),
    ("street", "rectification", "inspection", "永乐花园", "永乐花园 "),
    ("street", "task", "inspection", "永乐花园", "永乐花园 "),
])
def test_a_record_named_after_its_estate_is_found_by_the_estate(client_for, who, form, field, typed, found):
    client = client_for(who)
    options = client.get(f"/admin/{form}/ajax/lookup/?name={field}&query={typed}").get_json()
    labels = [label for _, label in options]
    assert labels and all(found in label for label in labels), labels
    # and the field says so
    page = client.get(f"/admin/{form}/new/").text
    tag = re.search(rf'<input[^>]*name="{field}"[^>]*>', page).group(0)
    assert re.search(r'data-placeholder="输入(小区|业主委员会|考评对象|会议)', tag), tag


def test_a_leadership_meeting_is_found_by_its_date(app, client_for):
    from models import db
    from models.governance import LeadershipMeeting

    with app.app_context():
        held_on = db.session.scalar(db.select(LeadershipMeeting.held_on).limit(1))
    typed = f"{held_on:%Y-%m-%d}"
    options = client_for("coordinator").get(f"/admin/task/ajax/lookup/?name=meeting&query={typed}").get_json()
    assert [label for _, label in options] == [f"{typed} 领导小组会议"]
