"""Load the seed text's structure for a street, as reference data (not demo):
the five communities and pilot estates the text names (篇6 三.3), the leadership group
by title, the property-management office, the seven departments, the two stations and
the center, and per community its supervision group and 物业管理委员会 — each with its
duties as the text words them.

Idempotent: rows are found by their natural keys, so loading twice changes nothing
and never overwrites what staff have since edited.
"""

from __future__ import annotations

from typing import Any

from models import db
from models.estates import Estate, EstateClass
from models.governance import (Community, Duty, LeaderRole, LeadershipGroup, LeadershipMember,
                               OrgKind, OrgUnit, Street)
from models.supervision import Comparison, Indicator, IndicatorSource, IndicatorUnit

from . import reference_data as ref
from .loader import ensure


def _duties(owner: dict[str, Any], items: list[dict[str, Any]]) -> int:
    created = 0
    for item in items:
        _, new = ensure(Duty, {**owner, "seq": item["seq"]}, text=item["text"], source=item["source"])
        created += new
    return created


def _unit(street: Street, kind: OrgKind, name: str, duties: list[dict[str, Any]],
          community: Community | None = None, **values: Any) -> int:
    unit, new = ensure(OrgUnit, {"street_id": street.id, "name": name}, kind=kind,
                       community_id=community.id if community else None, **values)
    return new + _duties({"unit_id": unit.id}, duties)


# Indicators whose figures come from the casework records (models.rates).
COMPUTED_INDICATORS = {"房屋零修、急修及时率": "repair_timely", "维修服务回访率": "repair_callback",
                       "有效投诉处理率": "complaint_handled", "用户有效投诉率": "complaint_rate",
                       "管理费收缴率": "fee_collection"}
COMPARISONS = {"=": Comparison.EQ, ">=": Comparison.GE, "<=": Comparison.LE}
UNITS = {"%": IndicatorUnit.PERCENT, "次/年": IndicatorUnit.PER_YEAR}


def load_indicators() -> int:
    """The 25 分项指标 of 篇3 二 with their targets (global reference data)."""
    created = 0
    for item in ref.INDICATORS:
        code = COMPUTED_INDICATORS.get(item["name"])
        _, new = ensure(Indicator, {"name": item["name"]}, seq=item["seq"],
                        comparison=COMPARISONS[item["comparison"]], target=item["value"],
                        unit=UNITS[item["unit"]],
                        source=IndicatorSource.COMPUTED if code else IndicatorSource.MEASURED,
                        rate_code=code, basis=item["source"], note=item.get("note"), is_reference=True)
        created += new
    return created


# 篇6 三.3 names the pilot estates but not their classes, and an estate needs one: a
# plausible spread, written on each row as provisional for staff to correct.
PILOT_CLASSES = {"永乐花园": EstateClass.FIRST, "后溪公寓小区": EstateClass.SECOND,
                 "黄山新村一路": EstateClass.SECOND, "双龙小区": EstateClass.FIRST,
                 "贮木场新村": EstateClass.SECOND}


def load_pilot_estates(street: Street) -> int:
    """The communities and pilot estates 篇6 三.3 names, in ``street``. Only what the
    text says: names and where each estate lies (its pilot record comes with the plan,
    seeds.rollout)."""
    created = 0
    for item in ref.PILOTS:
        community, new = ensure(Community, {"street_id": street.id, "name": item["community"]},
                                note=f"原文点名的社区（{item['source']}）")
        created += new
        klass = PILOT_CLASSES[item["estate"]]
        _, new = ensure(Estate, {"community_id": community.id, "name": item["estate"]},
                        estate_class=klass,
                        note=f"试点小区（{item['source']}）。原文未载明类别，暂定为{klass.label}，请核实后修改。")
        created += new
    return created


def load_reference(street: Street, pilots: bool = True) -> int:
    """Load everything for ``street``; returns the number of rows created. ``pilots``:
    also the communities and pilot estates the text names — for the text's own street,
    not for the other streets of a district."""
    created = load_pilot_estates(street) if pilots else 0
    lg = ref.LEADERSHIP_GROUP
    # "街道物业管理领导小组" (篇6 一) with the street's own name, so streets tell theirs apart
    group, new = ensure(LeadershipGroup, {"street_id": street.id},
                        name=lg["name"].replace("街道", f"{street.name}", 1),
                        duties="\n".join(d["text"] for d in lg["duties"]),
                        office_name=lg["office"]["name"], office_host=lg["office"]["host"],
                        note=f"成员单位：{lg['member_units_text']}（{lg['source']}）")
    created += new
    for order, m in enumerate(lg["members"], 1):
        position = m["position"] + ("（兼任）" if m.get("concurrent") else "")
        _, new = ensure(LeadershipMember, {"group_id": group.id, "name": m["name"]},
                        role=LeaderRole(m["role"]), position=position, sort_order=order)
        created += new

    office = ref.PROPERTY_OFFICE
    created += _unit(street, OrgKind.PROPERTY_OFFICE, office["name"], office["duties"])
    for dept in ref.DEPARTMENTS:
        created += _unit(street, OrgKind.DEPARTMENT, dept["full_name"], dept["duties"])
    per_community = []
    for unit in ref.UNITS:
        if unit["per_community"]:
            per_community.append(unit)
            continue
        created += _unit(street, OrgKind(unit["kind"]), unit["name"], unit["duties"],
                         hotline_24h=unit["kind"] == OrgKind.REPAIR_STATION.value)

    communities = db.session.scalars(db.select(Community).where(Community.street_id == street.id))
    for community in communities:
        for unit in per_community:
            created += _unit(street, OrgKind(unit["kind"]), f"{community.name}物业管理监督小组",
                             unit["duties"], community=community)
        created += _unit(street, OrgKind.PM_COMMITTEE,
                         f"{community.name}{ref.PM_COMMITTEE['name_suffix']}",
                         ref.PM_COMMITTEE["duties"], community=community)
        created += _duties({"community_id": community.id}, ref.COMMUNITY_DUTIES)
    db.session.flush()
    return created
