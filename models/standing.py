"""How a set of estates stands against the indicators over a period.

Measured indicators: each estate's latest value in the period; for several estates,
their mean, with how many estates reported and how many miss the target. Computed
indicators: the rate from the records (models.rates). Also the estates short of the
four cleaning inspections a month (篇2 保洁方面 2) — judged on months that are over, and
on the current month only once it can no longer reach four.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from .kernel import db, now
from .rates import service_rates
from .supervision import Indicator, IndicatorSource
from .inspections import Inspection, InspectionItem, InspectionKind

CLEANING_PER_MONTH = 4


@dataclass
class Standing:
    indicator: Indicator
    value: Decimal | None
    meets: bool | None
    reported: int = 0          # estates with a reading (measured)
    missing: int = 0           # of those, how many miss the target
    fraction: str | None = None  # numerator / denominator (computed)


def latest_rows(estate_ids: Any, start: date, end: date) -> Any:
    """(estate_id, indicator_id, value) of each estate's latest reading per indicator in
    the period, as a subquery.

    A period that reaches today reads the kept latest readings (models.tallies): the
    latest reading in it is the latest of all, if it falls on or after the start."""
    from .kernel.scoping import among
    from .tallies import LatestReading

    if end >= now().date():
        return select(LatestReading.estate_id, LatestReading.indicator_id, LatestReading.value).where(
            among(LatestReading.estate_id, estate_ids), LatestReading.inspected_on >= start).subquery()
    ranked = (
        select(Inspection.estate_id, InspectionItem.indicator_id, InspectionItem.value,
               func.row_number().over(partition_by=(Inspection.estate_id, InspectionItem.indicator_id),
                                      order_by=(Inspection.inspected_on.desc(), InspectionItem.id.desc()))
               .label("rank"))
        .join(Inspection, Inspection.id == InspectionItem.inspection_id)
        .where(among(Inspection.estate_id, estate_ids), Inspection.inspected_on >= start,
               Inspection.inspected_on <= end)
        .subquery())
    return select(ranked.c.estate_id, ranked.c.indicator_id, ranked.c.value).where(ranked.c.rank == 1).subquery()


def latest_values(estate_ids: Any, start: date, end: date) -> dict[int, dict[int, Decimal]]:
    """indicator id -> {estate id: the latest value in the period} (for a few estates)."""
    out: dict[int, dict[int, Decimal]] = {}
    for estate_id, indicator_id, value in db.session.execute(select(latest_rows(estate_ids, start, end))):
        out.setdefault(indicator_id, {})[estate_id] = Decimal(value)
    return out


def measured(estate_ids: Any, start: date, end: date) -> dict[int, tuple[Decimal, int, int]]:
    """indicator id -> (mean of the estates' latest values, estates reporting, estates
    missing the target), summed in the database in whole cents (values have two
    decimals, so the mean is exact), whatever the number of estates."""
    from sqlalchemy import and_, case, or_

    rows = latest_rows(estate_ids, start, end)
    cents = func.round(rows.c.value * 100)
    target = func.round(Indicator.target * 100)
    misses = or_(and_(Indicator.comparison == "ge", cents < target),
                 and_(Indicator.comparison == "le", cents > target),
                 and_(Indicator.comparison == "eq", cents != target))
    stmt = (select(rows.c.indicator_id, func.count(), func.sum(cents), func.sum(case((misses, 1), else_=0)))
            .join(Indicator, Indicator.id == rows.c.indicator_id).group_by(rows.c.indicator_id))
    out = {}
    for indicator_id, count, total, missing in db.session.execute(stmt):
        mean = (Decimal(int(total)) / 100 / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        out[indicator_id] = (mean, count, int(missing))
    return out


def standing(estate_ids: Any, start: date, end: date) -> list[Standing]:
    """Each indicator against its target for the estates (ids, a SELECT, or ``None`` for
    all) over [start, end]."""
    rates = {r.code: r for r in service_rates(estate_ids, start, end)}
    readings = measured(estate_ids, start, end)
    out = []
    for indicator in db.session.scalars(select(Indicator).order_by(Indicator.seq, Indicator.id)):
        if indicator.source == IndicatorSource.COMPUTED and indicator.rate_code in rates:
            rate = rates[indicator.rate_code]
            out.append(Standing(indicator, rate.percent, indicator.meets(rate.percent),
                                fraction=f"{rate.numerator} / {rate.denominator}"))
            continue
        if indicator.id not in readings:
            out.append(Standing(indicator, None, None))
            continue
        mean, reported, missing = readings[indicator.id]
        out.append(Standing(indicator, mean, missing == 0, reported=reported, missing=missing))
    return out


@dataclass
class CleaningCount:
    estate_id: int
    days: int                    # days of the month with a cleaning inspection
    flagged: bool                # short of four, and past making it up
    days_left: int | None = None  # current month: days still open for one

    @property
    def needed(self) -> int:
        return max(CLEANING_PER_MONTH - self.days, 0)


def cleaning_shortfalls(estate_ids: Any, month: date) -> list[CleaningCount]:
    """Estates under supervision — their four-in-one group is active — with fewer than
    four cleaning inspections in ``month``, counted as days with one (two reports of the
    same day are one 考核).

    A month that is over is short if it had fewer than four. The current month is only
    flagged once it can no longer reach four: the days left (today too, unless it has
    had one) are fewer than the inspections still needed. Until then its estates are
    listed as progress, not as shortfalls — early in a month every estate is below four.
    A month not begun has nothing to show."""
    from .supervision import FourInOneGroup, GroupState

    from .kernel.scoping import among

    today = now().date()
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if first > today:
        return []
    supervised = select(FourInOneGroup.estate_id).where(
        among(FourInOneGroup.estate_id, estate_ids), FourInOneGroup.state == GroupState.ACTIVE.value)
    counts = {e: (n, latest) for e, n, latest in db.session.execute(
        select(Inspection.estate_id, func.count(func.distinct(Inspection.inspected_on)),
               func.max(Inspection.inspected_on)).where(
            among(Inspection.estate_id, estate_ids), Inspection.kind == InspectionKind.CLEANING.value,
            Inspection.inspected_on >= first, Inspection.inspected_on <= last)
        .group_by(Inspection.estate_id))}
    out = []
    for estate_id in db.session.scalars(supervised):
        days, latest = counts.get(estate_id, (0, None))
        if days >= CLEANING_PER_MONTH:
            continue
        if last < today:
            out.append(CleaningCount(estate_id, days, flagged=True))
            continue
        left = (last - today).days + (0 if latest == today else 1)
        out.append(CleaningCount(estate_id, days, flagged=days + left < CLEANING_PER_MONTH, days_left=left))
    return sorted(out, key=lambda c: (not c.flagged, c.days))
