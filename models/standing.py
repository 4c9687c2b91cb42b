"""How a set of estates stands against the indicators over a period.

Measured indicators: each estate's latest value in the period; for several estates,
their mean, with how many estates reported and how many miss the target. Computed
indicators: the rate from the records (models.rates). Also the estates short of the
four cleaning inspections a month (篇2 保洁方面 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from . import db
from .rates import service_rates
from .supervision import (Indicator, IndicatorSource, Inspection, InspectionItem, InspectionKind)

CLEANING_PER_MONTH = 4


@dataclass
class Standing:
    indicator: Indicator
    value: Decimal | None
    meets: bool | None
    reported: int = 0          # estates with a reading (measured)
    missing: int = 0           # of those, how many miss the target
    fraction: str | None = None  # numerator / denominator (computed)


def latest_values(estate_ids: Any, start: date, end: date) -> dict[int, dict[int, Decimal]]:
    """indicator id -> {estate id: the latest value in the period}."""
    ranked = (
        select(Inspection.estate_id, InspectionItem.indicator_id, InspectionItem.value,
               func.row_number().over(partition_by=(Inspection.estate_id, InspectionItem.indicator_id),
                                      order_by=(Inspection.inspected_on.desc(), InspectionItem.id.desc()))
               .label("rank"))
        .join(Inspection, Inspection.id == InspectionItem.inspection_id)
        .where(Inspection.estate_id.in_(estate_ids), Inspection.inspected_on >= start,
               Inspection.inspected_on <= end)
        .subquery())
    out: dict[int, dict[int, Decimal]] = {}
    for estate_id, indicator_id, value, _ in db.session.execute(select(ranked).where(ranked.c.rank == 1)):
        out.setdefault(indicator_id, {})[estate_id] = Decimal(value)
    return out


def standing(estate_ids: Any, start: date, end: date) -> list[Standing]:
    rates = {r.code: r for r in service_rates(estate_ids, start, end)}
    measured = latest_values(estate_ids, start, end)
    out = []
    for indicator in db.session.scalars(select(Indicator).order_by(Indicator.seq, Indicator.id)):
        if indicator.source == IndicatorSource.COMPUTED and indicator.rate_code in rates:
            rate = rates[indicator.rate_code]
            out.append(Standing(indicator, rate.percent, indicator.meets(rate.percent),
                                fraction=f"{rate.numerator} / {rate.denominator}"))
            continue
        values = measured.get(indicator.id, {})
        if not values:
            out.append(Standing(indicator, None, None))
            continue
        mean = (sum(values.values()) / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        missing = sum(1 for v in values.values() if not indicator.meets(v))
        out.append(Standing(indicator, mean, missing == 0, reported=len(values), missing=missing))
    return out


def cleaning_shortfalls(estate_ids: Any, month: date) -> list[tuple[int, int]]:
    """(estate id, cleaning inspections) for estates under supervision — their four-in-one
    group is active — with fewer than four in ``month``."""
    from .supervision import FourInOneGroup, GroupState

    supervised = select(FourInOneGroup.estate_id).where(
        FourInOneGroup.estate_id.in_(estate_ids), FourInOneGroup.state == GroupState.ACTIVE.value)
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    counts = dict(db.session.execute(
        select(Inspection.estate_id, func.count()).where(
            Inspection.estate_id.in_(estate_ids), Inspection.kind == InspectionKind.CLEANING.value,
            Inspection.inspected_on >= first, Inspection.inspected_on <= last)
        .group_by(Inspection.estate_id)).all())
    return [(e, counts.get(e, 0)) for e in db.session.scalars(supervised)
            if counts.get(e, 0) < CLEANING_PER_MONTH]
