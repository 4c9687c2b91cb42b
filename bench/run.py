"""The benchmark: the product against plain Flask-Admin and the raw floor, on one database.

    make bench                       # SQLite (builds bench/out/bench.db once)
    make bench DB=postgresql         # a PostgreSQL database wuye_bench on 127.0.0.1:5432
    .venv/bin/python -m bench.run --help

It builds the data once (``flask seed-scale``; reused while the sizes are the same), then
measures in one run, on the same database and the same process:

* the product's screens, logged in as the city administrator (and a street's staff for
  the scoped list) — list (first page, filtered, searched, page 5,000, sorted), details,
  edit form, dashboard;
* the same requests against plain Flask-Admin ``ModelView`` (bench/plain.py);
* the hand-written SQL for each (the floor a screen can approach);
* an export of 1,000,000 rows by each, in a process of its own (time to first byte,
  total time, peak memory).

It prints medians and the ratios product/plain and product/raw, and writes them to
bench/out/results-<database>.json. Timings, not assertions: the tests keep the plans
and statement counts that make these figures possible (tests/test_scale.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


# -- the data, built once -----------------------------------------------------------------


def database_url(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{OUT / 'bench.db'}"
    if kind == "postgresql":
        return f"{PG_SERVER}/wuye_bench"
    return kind


def build(url: str, sizes: dict[str, int], rebuild: bool) -> None:
    marker = OUT / f"built-{'sqlite' if url.startswith('sqlite') else 'postgresql'}.json"
    if not rebuild and marker.exists() and json.loads(marker.read_text()) == {"url": url, **sizes}:
        print(f"数据已存在（{url}），直接测量；--rebuild 重新生成")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app"}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([*flask, "seed-scale", *[f"--{k}={v}" for k, v in sizes.items()]],
                   cwd=ROOT, env=env, check=True)
    print(f"生成数据用时 {time.perf_counter() - started:.0f} 秒")
    marker.write_text(json.dumps({"url": url, **sizes}))


# -- measuring ----------------------------------------------------------------------------------


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    for _ in range(2):  # warm caches and compiled statements, as a running server has
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def getter(client: Any, url: str) -> Callable[[], None]:
    def get() -> None:
        response = client.get(url)
        response.get_data()
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return get


def raw_runner(engine: Any, sql: str, params: dict[str, Any]) -> Callable[[], None]:
    from sqlalchemy import text

    statement = text(sql)

    def run() -> None:
        with engine.connect() as conn:
            conn.execute(statement, params).all()
    return run


def measure(url: str, repeat: int, with_export: bool, plain_export: bool) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, func, select, text

    from app import create_app
    from bench.plain import create_plain_app, filter_arg
    from models import db
    from models.repairs import RepairTicket
    from views.auth import plant_login
    from views.engine.listing import encode_cursor

    instance = OUT / "instance"
    product = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                          "INSTANCE_PATH": str(instance)})
    plain = create_plain_app(url)
    sqlite = url.startswith("sqlite")

    with product.app_context():
        ticket_view = next(v for v in product.extensions["admin"][0]._views
                           if getattr(v, "endpoint", None) == "repair_ticket")
        plain_view = next(v for v in plain.extensions["admin"][0]._views
                          if getattr(v, "endpoint", None) == "plain_ticket")
        middle = db.session.scalar(select(func.max(RepairTicket.id))) // 2
        busy = db.session.execute(text(
            "SELECT estate_id FROM repair_ticket GROUP BY estate_id ORDER BY count(*) DESC LIMIT 1")).scalar()
        name = db.session.execute(text(
            "SELECT caller FROM repair_ticket WHERE id BETWEEN :a AND :b AND length(caller) = 3"),
            {"a": middle, "b": middle + 50}).scalar()
        # the row a reader of page 5,000 (20 a page) starts after: row 99,980 in the list's order
        deep = db.session.scalars(select(RepairTicket).order_by(RepairTicket.call_at.desc(),
                                                                RepairTicket.id.desc())
                                  .offset(99_979).limit(1)).one()
        keys = ticket_view._sort_keys(None, False)
        cursor = encode_cursor(deep, keys)
        deep_values = {"c": deep.call_at, "i": deep.id}
        sort_index = [n for n, _ in ticket_view._list_columns].index("complete_due_at")
        flt_state = filter_arg(ticket_view, "category")
        flt_estate = filter_arg(ticket_view, "estate_id")
        plain_state = filter_arg(plain_view, "category")
        plain_estate = filter_arg(plain_view, "name")  # plain Flask-Admin filters a relation by its columns
        busy_name = db.session.execute(text("SELECT name FROM estate WHERE id = :e"), {"e": busy}).scalar()
        plain_sort = [n for n, _ in plain_view._list_columns].index("complete_due_at")

    # logged in as a login would, without paying for scrypt in the figures
    product_client, street_client = product.test_client(), product.test_client()
    plant_login(product, product_client, "city")
    plant_login(product, street_client, "street1")
    plain_client = plain.test_client()
    engine = create_engine(url)

    listed = ("SELECT t.id, t.call_at, e.name, t.category, t.caller, t.state, t.complete_due_at, "
              "t.arrive_due_at, t.arrived_at, t.completed_at FROM repair_ticket t "
              "JOIN estate e ON e.id = t.estate_id ")
    order = " ORDER BY t.call_at DESC, t.id DESC LIMIT 20"
    if sqlite:
        found = ("t.id IN (SELECT rowid FROM repair_ticket_fts WHERE repair_ticket_fts MATCH :q)")
        search_params = {"q": " AND ".join(f'"{name[i:i + 2]}"' for i in range(len(name) - 1))}
    else:
        found = ("array_to_tsvector(string_to_array(coalesce(t.search_doc, ''), ' ')) "
                 "@@ CAST(:q AS tsquery)")
        search_params = {"q": " & ".join(f"'{name[i:i + 2]}'" for i in range(len(name) - 1))}

    base = "/admin/repair_ticket/"
    pbase = "/plain/plain_ticket/"
    cases = [
        ("列表首页", base, pbase, listed + order, {}),
        ("列表首页（街道账号，带范围）", ("street", base), None,
         listed + "JOIN community c ON c.id = e.community_id WHERE c.street_id = :s" + order,
         {"s": 1}),
        ("筛选（类别=水，某小区）", f"{base}?{flt_state}=water&{flt_estate}={busy}",
         f"{pbase}?{plain_state}=water&{plain_estate}={busy_name}",
         listed + "WHERE t.category = 'water' AND t.estate_id = :e" + order, {"e": busy}),
        (f"搜索（报修人“{name}”）", f"{base}?search={name}", f"{pbase}?search={name}",
         listed + "WHERE " + found + order, search_params),
        ("第 5000 页（产品：游标翻页）", f"{base}?after={cursor}", f"{pbase}?page=4999",
         listed + "WHERE (t.call_at < :c OR (t.call_at = :c AND t.id < :i))" + order, deep_values),
        ("第 5000 页（产品：按页码 OFFSET）", f"{base}?page=4999", f"{pbase}?page=4999",
         listed + order + " OFFSET 99980", {}),
        ("按完工期限排序", f"{base}?sort={sort_index}", f"{pbase}?sort={plain_sort}",
         listed + " ORDER BY t.complete_due_at, t.id LIMIT 20", {}),
        ("详情", f"{base}details/?id={middle}", f"{pbase}details/?id={middle}",
         listed + "WHERE t.id = :id", {"id": middle}),
        ("编辑表单", f"{base}edit/?id={middle}", f"{pbase}edit/?id={middle}",
         "SELECT * FROM repair_ticket WHERE id = :id", {"id": middle}),
        ("编辑表单里检索小区（ajax）", f"{base}ajax/lookup/?name=estate&query={busy_name[:2]}&offset=0&limit=10",
         None, "SELECT id, name FROM estate WHERE name LIKE :q ORDER BY name LIMIT 10",
         {"q": f"%{busy_name[:2]}%"}),
        ("首页（全市）", "/admin/", None, None, {}),
    ]
    rows = []
    for label, product_url, plain_url, sql, params in cases:
        client = street_client if isinstance(product_url, tuple) else product_client
        path = product_url[1] if isinstance(product_url, tuple) else product_url
        with product.app_context():
            p = median_ms(getter(client, path), repeat)
        with plain.app_context():
            q = median_ms(getter(plain_client, plain_url), max(3, repeat // 3)) if plain_url else None
        r = median_ms(raw_runner(engine, sql, params), repeat) if sql else None
        rows.append({"case": label, "product_ms": round(p, 1), "plain_ms": q and round(q, 1),
                     "raw_ms": r and round(r, 2)})
        print(_line(rows[-1]), flush=True)
    if with_export:
        rows.append(export_case(url, instance, plain_export))
        print(_line(rows[-1]), flush=True)
    return rows


def export_case(url: str, instance: Path, plain_export: bool) -> dict[str, Any]:
    """1,000,000 complaints as CSV, each exporter in a fresh process."""
    def probe(*args: str) -> dict[str, Any]:
        out = subprocess.run([sys.executable, "-m", "bench.export_probe", *args], cwd=ROOT,
                             check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    product = probe("product", url, str(instance), "/admin/complaint/", "city")
    plain = probe("plain", url, str(instance), "/plain/plain_complaint/") if plain_export else None
    raw = probe("raw", url, str(instance), "complaint")
    return {"case": "导出 1,000,000 行 CSV", "export": {"product": product, "plain": plain, "raw": raw}}


def _line(row: dict[str, Any]) -> str:
    if "export" in row:
        parts = []
        for who, f in row["export"].items():
            if f:
                parts.append(f"{who}: 首字节 {f['first_byte_s']} 秒，共 {f['total_s']} 秒，"
                             f"峰值内存 {f['peak_mb']} MB（导出前 {f['baseline_mb']} MB）")
        return f"{row['case']}\n    " + "\n    ".join(parts)
    p, q, r = row["product_ms"], row["plain_ms"], row["raw_ms"]
    vs_plain = f"{p / q:.3f}（快 {q / p:.1f} 倍）" if q else "—"
    vs_raw = f"{p / r:.1f}" if r else "—"
    plain_text = f"{q:>9.1f}" if q else f"{'—':>9}"
    raw_text = f"{r:>8.2f}" if r else f"{'—':>8}"
    return f"{row['case']:<28}{p:>9.1f}{plain_text}{raw_text}   产品/原生 {vs_plain:<18} 产品/SQL {vs_raw}"


def main() -> None:
    parser = argparse.ArgumentParser(description="产品、原生 Flask-Admin 与手写 SQL 的性能对比")
    parser.add_argument("--db", default="sqlite", help="sqlite、postgresql 或一个数据库 URL")
    parser.add_argument("--estates", type=int, default=13000)
    parser.add_argument("--tickets", type=int, default=2_000_000)
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--inspections", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="每项请求的重复次数（取中位数）")
    parser.add_argument("--rebuild", action="store_true", help="重新生成数据")
    parser.add_argument("--no-build", action="store_true", help="直接使用已有的数据库（不检查规模）")
    parser.add_argument("--no-export", action="store_true", help="不测导出")
    parser.add_argument("--no-plain-export", action="store_true",
                        help="不测原生 Flask-Admin 的导出（它把全部行读进内存，需要几 GB 和一分钟以上）")
    args = parser.parse_args()
    url = database_url(args.db)
    sizes = {"estates": args.estates, "tickets": args.tickets, "complaints": args.complaints,
             "inspections": args.inspections}
    if not args.no_build:
        build(url, sizes, args.rebuild)
    print(f"\n数据库：{url}；每项 {args.repeat} 次取中位数（毫秒）")
    print(f"{'请求':<28}{'产品':>9}{'原生FA':>9}{'手写SQL':>8}")
    rows = measure(url, args.repeat, not args.no_export, not args.no_plain_export)
    name = "sqlite" if url.startswith("sqlite") else "postgresql"
    (OUT / f"results-{name}.json").write_text(json.dumps(
        {"url": url, "sizes": sizes, "rows": rows}, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
