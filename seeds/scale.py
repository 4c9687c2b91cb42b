"""City-scale data for measuring: ``flask seed-scale --estates 13000 --tickets 2000000 ...``.

Realistic rather than uniform, because uniform data flatters every query plan:

* a city of districts → streets (about 60 estates each) → communities (about 12) → estates,
  classed 一类/二类/三类 in the text's proportions (15 : 21 : 20);
* repair tickets and complaints skewed across estates — a tenth of the estates draw about
  half of them — with seasonal surges (water and power in summer, pipes in winter) and
  daytime peaks; most closed, the recent ones open, a few late;
* deadlines computed by the same rules the application uses (``RepairRule.completion_due``
  and the complaint clocks), so overdue flags and rates mean what they mean in production;
* inspections with indicator values.

Rows go in through the models' own tables with bulk (executemany) inserts in batches, so
two million tickets take minutes, not hours. Every value passes through the column types
(choice codes, dates) exactly as the ORM would write it.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import click
from sqlalchemy import Table, func, insert, select

from models import db, now

BATCH = 5000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "建国华明丽军伟芳敏静秀英杰勇强磊洋艳娟涛超平刚桂兰玉霞春梅红燕志新海波宁斌鹏辉飞丹琳晓东雪慧婷"
STREET_WORDS = "江滨鸿燕红山黄山后溪洋永乐双龙贮木新村锦绣和平光明幸福长安东湖西湖南山北园金桥银河"
ESTATE_SUFFIX = ("花园", "小区", "新村", "公寓", "家园", "苑", "雅居", "名城")

REPAIR_TEXTS = {
    "water": ("厨房水管漏水", "卫生间水龙头坏了", "楼顶水箱溢水", "自来水管爆裂", "水表井漏水", "二次供水水压低"),
    "power": ("楼道灯不亮", "家里跳闸停电", "电表箱冒烟", "单元门禁断电", "路灯不亮", "电梯停电困人"),
    "drain": ("下水道堵塞", "厨房下水返味", "卫生间地漏堵了", "雨水井堵塞积水"),
    "septic": ("化粪池满溢", "化粪池需要清掏"),
    "gas": ("燃气表漏气", "燃气管道有异味"),
    "other": ("单元门坏了", "屋顶渗水", "外墙脱落", "信报箱损坏", "车棚顶棚破损", "楼梯扶手松动"),
}
COMPLAINT_TEXTS = ("物业服务态度差", "小区保洁不及时", "车辆乱停乱放", "绿化带被占用", "夜间施工扰民",
                   "电梯经常故障", "物业费收费不透明", "楼道堆放杂物", "宠物扰民", "门禁卡办理慢",
                   "建议增加充电桩", "建议增设健身器材", "建议公示维修资金使用情况")

# repair categories with their share of calls
CATEGORIES = (("water", 35), ("power", 25), ("drain", 15), ("septic", 5), ("gas", 5), ("other", 15))
# month weights: summer storms and heat (water, power), winter frozen pipes
SEASON = {1: 1.2, 2: 1.0, 3: 0.8, 4: 0.8, 5: 0.9, 6: 1.3, 7: 1.6, 8: 1.5, 9: 1.0, 10: 0.8, 11: 0.9, 12: 1.2}
# hour-of-day weights: people call in the day and the evening
HOURS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 8, 7, 7, 8, 8, 8, 9, 10, 9, 7, 5, 3, 2]


def generate(estates: int, tickets: int, complaints: int, inspections: int, seed: int = 7,
             echo: Callable[[str], None] = print) -> dict[str, int]:
    """Build the city; returns how many rows of each kind were written."""
    rng = random.Random(seed)
    started = time.perf_counter()
    created: dict[str, int] = {}

    def done(what: str, count: int) -> None:
        created[what] = count
        echo(f"  {what}: {count:,} 行（累计 {time.perf_counter() - started:.1f} 秒）")

    with _bulk_mode(echo):
        ids = _places(rng, estates, done)
        weights = _skewed_weights(rng, len(ids["estates"]))
        days = _season_days(now())
        done("报修单", _tickets(rng, tickets, ids["estates"], weights, days))
        done("投诉建议", _complaints(rng, complaints, ids["estates"], weights, days))
        done("监督检查", _inspections(rng, inspections, ids["estates"], weights))
        _accounts(ids)
        db.session.commit()
    started_tallies = time.perf_counter()
    from models.tallies import rebuild

    rebuild(db.session.connection())  # rows went in past the ORM: summarise them once
    db.session.commit()
    echo(f"  汇总表：重算用时 {time.perf_counter() - started_tallies:.1f} 秒")
    _analyze()
    echo(f"完成，用时 {time.perf_counter() - started:.1f} 秒")
    return created


# -- places -----------------------------------------------------------------------------


def _places(rng: random.Random, estates: int, done: Callable[[str, int], None]) -> dict[str, list[int]]:
    from models.estates import Estate
    from models.governance import Community, Street

    n_streets = max(1, round(estates / 60))
    n_communities = max(n_streets, round(estates / 12))
    stamp = now()
    base = _next_id(Street)
    streets = [{"name": f"{rng.choice(STREET_WORDS)}{rng.choice(STREET_WORDS)}街道{base + i:04d}",
                "district": f"第{(i // 10) + 1}区", "is_demo": True, "created_at": stamp, "updated_at": stamp}
               for i in range(n_streets)]
    street_ids = _insert(Street, streets)
    done("街道", len(street_ids))
    base = _next_id(Community)
    communities = [{"name": f"{rng.choice(STREET_WORDS)}{rng.choice(STREET_WORDS)}社区{base + i:05d}",
                    "street_id": street_ids[i % n_streets], "director": _person(rng),
                    "phone": _phone(rng), "is_demo": True, "created_at": stamp, "updated_at": stamp}
                   for i in range(n_communities)]
    community_ids = _insert(Community, communities)
    done("社区", len(community_ids))
    base = _next_id(Estate)
    classes = ["first"] * 15 + ["second"] * 21 + ["third"] * 20
    modes = {"first": ("market",), "second": ("market", "unit_self", "affordable"),
             "third": ("old_center",)}
    rows = []
    for i in range(estates):
        estate_class = rng.choice(classes)
        households = rng.randint(80, 3000)
        rows.append({
            "name": f"{rng.choice(STREET_WORDS)}{rng.choice(STREET_WORDS)}{rng.choice(ESTATE_SUFFIX)}{base + i:05d}",
            "community_id": community_ids[i % n_communities],
            "address": f"{rng.choice(STREET_WORDS)}路{rng.randint(1, 999)}号",
            "estate_class": estate_class, "management_mode": rng.choice(modes[estate_class]),
            "buildings": max(1, households // rng.randint(40, 120)), "households": households,
            "floor_area": Decimal(households * rng.randint(60, 120)),
            "is_demo": True, "created_at": stamp, "updated_at": stamp})
    estate_ids = _insert(Estate, rows)
    done("小区", len(estate_ids))
    return {"streets": street_ids, "communities": community_ids, "estates": estate_ids}


def _skewed_weights(rng: random.Random, n: int) -> list[float]:
    """A tenth of the estates draw about half the cases (weight 9 against 1)."""
    busy = set(rng.sample(range(n), max(1, n // 10)))
    return [9.0 if i in busy else 1.0 for i in range(n)]


def _season_days(today: datetime) -> tuple[list[datetime], list[float]]:
    """The last 365 days with cumulative weights by their month's season."""
    start = datetime.combine(today.date() - timedelta(days=364), datetime.min.time())
    days = [start + timedelta(days=d) for d in range(365)]
    return days, _cumulative([SEASON[d.month] for d in days])


HOUR_CUMULATIVE = None


def _moment(rng: random.Random, days: tuple[list[datetime], list[float]], limit: datetime) -> datetime:
    global HOUR_CUMULATIVE
    if HOUR_CUMULATIVE is None:
        HOUR_CUMULATIVE = _cumulative(HOURS)
    day = rng.choices(days[0], cum_weights=days[1])[0]
    at = day + timedelta(hours=rng.choices(range(24), cum_weights=HOUR_CUMULATIVE)[0],
                         minutes=rng.randrange(60), seconds=rng.randrange(60))
    return min(at, limit - timedelta(minutes=rng.randint(1, 600)))


# -- casework -----------------------------------------------------------------------------


def _tickets(rng: random.Random, count: int, estates: list[int], weights: list[float],
             days: tuple[list[datetime], list[float]]) -> int:
    from models.repairs import DEFAULT_RULES, RepairRule, RepairTicket

    rules = {code.value: RepairRule(category=code, arrival_minutes=m, end_of_day=e, hours=h)
             for code, (m, e, h, _) in DEFAULT_RULES.items()}
    codes, shares = zip(*CATEGORIES)
    shares = _cumulative(shares)
    current = now()

    def rows() -> Iterator[dict[str, Any]]:
        picks = _cumulative(weights)
        for _ in range(count):
            category = rng.choices(codes, cum_weights=shares)[0]
            rule = rules[category]
            call_at = _moment(rng, days, current)
            row = {"estate_id": estates[_pick(rng, picks)], "call_at": call_at, "caller": _person(rng),
                   "phone": _phone(rng), "address": _room(rng), "category": category,
                   "description": rng.choice(REPAIR_TEXTS[category]),
                   "arrive_due_at": call_at + timedelta(minutes=rule.arrival_minutes),
                   "complete_due_at": rule.completion_due(call_at),
                   "created_at": call_at, "updated_at": call_at}
            age = current - call_at
            roll = rng.random()
            if roll < 0.05:
                row.update(state="referred", scope_decision=rng.choice(("out_of_scope", "utility", "common_parts")),
                           advice="已告知报修人联系有关部门")
            elif age < timedelta(hours=6) and roll < 0.6:
                row.update(state=rng.choice(("received", "accepted", "dispatched")), scope_decision=None)
            else:
                arrived = call_at + timedelta(minutes=rng.choice((8, 15, 20, 25, 28, 35, 50)))
                late = rng.random() < 0.04
                finish = row["complete_due_at"] + timedelta(hours=rng.randint(1, 30)) if late \
                    else arrived + (row["complete_due_at"] - arrived) * rng.uniform(0.05, 0.9)
                finish = min(finish, current - timedelta(minutes=1))
                arrived = min(arrived, finish)
                called = rng.random() < 0.35
                row.update(state="closed" if called else "completed", scope_decision="in_scope",
                           repair_unit=f"{rng.choice(STREET_WORDS)}维修队",
                           dispatched_at=call_at + timedelta(minutes=2), arrived_at=arrived,
                           completed_at=finish, result="已修复", fee=Decimal(rng.choice((0, 0, 20, 35, 50, 80))),
                           called_back_at=min(finish + timedelta(hours=rng.randint(1, 20)), current) if called else None,
                           satisfaction=rng.choice(("satisfied", "satisfied", "basic", "unsatisfied")) if called else None)
                if row["called_back_at"] is not None and row["called_back_at"] < finish:
                    row["called_back_at"] = finish
            yield row
    return _bulk(RepairTicket, rows(), _ticket_defaults())


def _ticket_defaults() -> dict[str, Any]:
    keys = ("state", "scope_decision", "advice", "repair_unit", "dispatched_at", "arrived_at",
            "completed_at", "result", "fee", "called_back_at", "satisfaction", "callback_note",
            "received_by_id")
    return dict.fromkeys(keys)


def _complaints(rng: random.Random, count: int, estates: list[int], weights: list[float],
                days: tuple[list[datetime], list[float]]) -> int:
    from models.casework import COMPLAINT_CALLBACK, DISPATCH, FEEDBACK, WEEK, Complaint

    current = now()
    channels = ("hotline", "hotline", "hotline", "box", "survey", "forum", "face_to_face")

    def rows() -> Iterator[dict[str, Any]]:
        picks = _cumulative(weights)
        for _ in range(count):
            received = _moment(rng, days, current)
            channel = rng.choice(channels)
            kind = "complaint" if rng.random() < 0.8 else "suggestion"
            case = SimpleNamespace(channel=channel, postponed_to=None)
            row = {"estate_id": estates[_pick(rng, picks)], "received_at": received, "channel": channel,
                   "kind": kind, "complainant": None if channel == "box" else _person(rng),
                   "phone": None if channel == "box" else _phone(rng),
                   "content": rng.choice(COMPLAINT_TEXTS),
                   "dispatch_due_at": DISPATCH.rule(case, received),
                   "feedback_due_at": FEEDBACK.rule(_channel(case), received),
                   "limit_due_at": WEEK.rule(case, received), "postponements": 0, "signed": False,
                   "created_at": received, "updated_at": received}
            age = current - received
            if age < timedelta(days=2) and rng.random() < 0.5:
                row.update(state=rng.choice(("received", "handling")),
                           dispatched_at=received + timedelta(minutes=2) if rng.random() < 0.7 else None)
            else:
                resolved = received + timedelta(hours=rng.choice((3, 8, 20, 30, 44, 60, 100, 200)))
                resolved = min(resolved, current - timedelta(minutes=1))
                called = rng.random() < 0.8
                back = min(resolved + timedelta(hours=rng.randint(1, 30)), current) if called else None
                row.update(state="closed" if called else "resolved", handler=_person(rng),
                           dispatched_at=received + timedelta(minutes=rng.choice((1, 2, 3, 5))),
                           resolved_at=resolved, result="已处理并答复", is_valid=kind == "complaint" and rng.random() < 0.6,
                           callback_due_at=COMPLAINT_CALLBACK.rule(case, resolved),
                           called_back_at=back, satisfied=rng.random() < 0.9 if called else None)
            yield row
    return _bulk(Complaint, rows(), dict.fromkeys(
        ("state", "handler", "dispatched_at", "resolved_at", "result", "is_valid", "callback_due_at",
         "called_back_at", "satisfied", "first_receiver_id", "postponed_to", "postpone_reason",
         "callback_note")) | {"state": "received"})


def _channel(case: SimpleNamespace) -> SimpleNamespace:
    from models.casework import Channel

    return SimpleNamespace(channel=Channel(case.channel), postponed_to=None)


# -- supervision ---------------------------------------------------------------------------


def _inspections(rng: random.Random, count: int, estates: list[int], weights: list[float]) -> int:
    from models.supervision import Indicator, IndicatorSource
    from models.inspections import Inspection, InspectionItem

    measured = db.session.execute(select(Indicator.id, Indicator.unit)
                                  .where(Indicator.source == IndicatorSource.MEASURED)).all()
    if not measured or not count:
        return 0
    today = now().date()
    first = _next_id(Inspection)
    picks = _cumulative([1.0] * len(estates))  # every estate is inspected about as often

    def inspections() -> Iterator[dict[str, Any]]:
        for _ in range(count):
            on = today - timedelta(days=rng.randrange(365))
            state = "received" if on < today - timedelta(days=14) else rng.choice(("draft", "submitted"))
            yield {"estate_id": estates[_pick(rng, picks)], "inspected_on": on,
                   "kind": rng.choice(("routine", "routine", "cleaning", "cleaning", "special")),
                   "findings": rng.choice(("单元门禁损坏", "楼道堆放杂物", "绿化带缺株", None, None)),
                   "state": state, "submitted_on": on if state != "draft" else None,
                   "received_on": on + timedelta(days=2) if state == "received" else None,
                   "created_at": datetime.combine(on, datetime.min.time()),
                   "updated_at": datetime.combine(on, datetime.min.time())}
    written = _bulk(Inspection, inspections(), {})

    def items() -> Iterator[dict[str, Any]]:
        for inspection_id in range(first, first + written):
            for indicator_id, unit in rng.sample(measured, rng.randint(3, 6)):
                value = rng.uniform(90, 100) if unit.value == "percent" else rng.randint(0, 2)
                yield {"inspection_id": inspection_id, "indicator_id": indicator_id,
                       "value": Decimal(f"{value:.2f}")}
    _bulk(InspectionItem, items(), {})
    return written


# -- accounts --------------------------------------------------------------------------------


def _accounts(ids: dict[str, list[int]]) -> None:
    """``city`` (administrator, the whole city) and ``street1`` (the first street's staff)."""
    from models.accounts import User, user_street
    from models.accounts import Role

    for username, role, name in (("city", Role.ADMIN, "全市管理员"), ("street1", Role.STREET_STAFF, "街道管理员")):
        if db.session.scalar(select(User).where(User.username == username)) is None:
            user = User(username=username, display_name=name, role=role)
            user.set_password("demo1234")
            db.session.add(user)
            db.session.flush()
            if role == Role.STREET_STAFF:
                db.session.execute(insert(user_street).values(user_id=user.id, street_id=ids["streets"][0]))


# -- helpers -----------------------------------------------------------------------------------


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _room(rng: random.Random) -> str:
    return f"{rng.randint(1, 40)}号楼{rng.randint(1, 6)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    from bisect import bisect_left

    return min(bisect_left(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _next_id(model: type) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _insert(model: type, rows: list[dict[str, Any]]) -> list[int]:
    """Insert small sets and return their ids, in order."""
    first = _next_id(model)
    _bulk(model, iter(rows), {})
    return list(range(first, first + len(rows)))


def _bulk(model: type, rows: Iterator[dict[str, Any]], defaults: dict[str, Any]) -> int:
    """Executemany in batches through the model's table (its column types convert values).
    Every row of a batch carries the same keys, as executemany requires."""
    from models.kernel.search import document_for

    table: Table = model.__table__
    statement = insert(table)
    build_document = document_for(model)
    written, batch = 0, []
    for row in rows:
        row = {**defaults, **row}
        if build_document is not None:
            row["search_doc"] = build_document(row)
        batch.append(row)
        if len(batch) >= BATCH:
            db.session.execute(statement, batch)
            written += len(batch)
            batch = []
    if batch:
        db.session.execute(statement, batch)
        written += len(batch)
    db.session.flush()
    return written


@contextmanager
def _bulk_mode(echo: Callable[[str], None]) -> Iterator[None]:
    """Load first, index after: the full-text indexes are dropped for the load and built
    once at the end (far cheaper than row by row); SQLite gets a page cache large enough
    for the list indexes."""
    from models import declared_models
    from models.kernel.search import drop_index_sql, ensure_index, search_fields

    connection = db.session.connection()
    dialect = connection.dialect.name
    tables = [m.__tablename__ for m in declared_models() if search_fields(m)]
    if dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MB, this connection only
    for table in tables:
        for statement in drop_index_sql(table, dialect):
            connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        started = time.perf_counter()
        connection = db.session.connection()
        for table in tables:
            ensure_index(connection, table)
        db.session.commit()
        echo(f"  全文索引：重建用时 {time.perf_counter() - started:.1f} 秒")


def _analyze() -> None:
    """Fresh planner statistics (and, on PostgreSQL, a visibility map so index-only scans
    need not visit the table), as a maintained production database would have."""
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


@click.command("seed-scale", help="生成城市规模的测试数据（用于性能测量，不是演示数据）")
@click.option("--estates", default=13000, show_default=True, help="小区数")
@click.option("--tickets", default=2_000_000, show_default=True, help="报修单数")
@click.option("--complaints", default=1_000_000, show_default=True, help="投诉建议数")
@click.option("--inspections", default=100_000, show_default=True, help="监督检查数（每次 3–6 项指标）")
@click.option("--seed", default=7, show_default=True, help="随机种子（同样的种子生成同样的数据）")
def seed_scale(estates: int, tickets: int, complaints: int, inspections: int, seed: int) -> None:
    from flask import current_app

    from models.kernel.audit import acting_as

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("生产模式下不生成测试数据")
    from seeds.casework_demo import load_repair_rules
    from seeds.reference import load_indicators

    with acting_as("命令行：seed-scale"):
        load_repair_rules()
        load_indicators()
        db.session.commit()
        click.echo(f"生成：小区 {estates:,}、报修单 {tickets:,}、投诉建议 {complaints:,}、监督检查 {inspections:,}")
        generate(estates, tickets, complaints, inspections, seed, echo=click.echo)
