"""The load script: dozens of people at once against the app under gunicorn on PostgreSQL.

    make load                                   # 40 users for 60 s
    .venv/bin/python -m bench.load --users 60 --duration 120
    .venv/bin/python -m bench.load --help

Loopback only, and bounded: it creates a fresh database on the PostgreSQL server at
127.0.0.1:5432, builds it with ``flask db upgrade`` and ``flask seed demo``, starts gunicorn
(gthread workers) on a free port of 127.0.0.1, and lets ``--users`` simulated people work for
``--duration`` seconds. Each logs in through /login with its CSRF token — many of them on the
same demo account at the same moment — and then loops over what the office does all day:
lists (searched, filtered), details, the dashboard, an export, edits of a handful of shared
tickets and complaints (so edits collide), new repair tickets and the workflow transitions
of tickets (accept, dispatch, arrive, complete, call back, refer), several people pushing the
same ticket at once. Every response's status and time is recorded.

It prints requests, throughput, p50/p95/p99 per kind of request, the status classes and the
edits accepted and refused, then checks, and exits non-zero if any check fails:

* no 5xx, no transport error, no session lost, no unexpected 4xx;
* no lost update: every edit the server accepted is in the audit trail with the value sent,
  exactly once; the trail of each edited field is one unbroken chain (each entry's old value
  is the previous entry's new one) ending in the row's value now; a refused stale edit left
  no trace, neither in the trail nor in the row;
* transitions: each ticket has exactly the transitions the server accepted, in the audit
  trail, its state changes form one chain ending in its state now;
* every login the server accepted is in the audit trail;
* the monthly case tallies (models.tallies, kept by flush hooks) equal a count over the
  records (``case_drift``; compared, not rebuilt);
* the audit trail's hash chain holds (``verify_chain``): writers at the same moment never
  chained two entries to the same predecessor.

The database is dropped at the end (``--keep`` keeps it, and says where).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PASSWORD = "demo1234"

STALE = "这条记录在您打开之后已被"          # views.engine.writes.STALE_MESSAGE
WRONG_STATE = "当前状态为"                  # models.kernel.workflow.perform, a transition already taken
MARK = "压测"                               # every value an edit sends starts with it

# Who works: (login, what they do). Cycled over the users, so several people share each
# account and log in to it at the same moment, as a station's staff share one login.
ACCOUNTS = [
    ("station", "tickets"), ("street", "tickets"), ("center", "complaints"), ("leader", "reader"),
    ("station", "tickets"), ("auditor", "reader"), ("street", "tickets"), ("admin", "reader"),
    ("community", "reader"), ("station", "tickets"), ("coordinator", "reader"),
    ("center", "complaints"), ("committee", "reader"),
]
# What each kind of user does, by weight.
MIXES = {
    "tickets": {"list": 18, "details": 10, "dashboard": 5, "edit_ticket": 20, "edit_complaint": 5,
                "transition": 30, "create": 6, "export": 2},
    "complaints": {"list": 25, "details": 15, "dashboard": 10, "edit_complaint": 45, "export": 5},
    "reader": {"list": 40, "details": 30, "dashboard": 20, "export": 10},
}
# A transition's params, as its form would post them (models.casework.RepairTicket).
TRANSITION_PARAMS: dict[str, Callable[[str], dict[str, str]]] = {
    "accept": lambda at: {},
    "refer": lambda at: {"scope_decision": "utility", "advice": "供水报修电话 96116（压测）"},
    "dispatch": lambda at: {"repair_unit": "压测维修队", "dispatched_at": at},
    "arrive": lambda at: {"arrived_at": at},
    "complete": lambda at: {"completed_at": at, "result": "已修复（压测）", "fee": "0"},
    "call_back": lambda at: {"called_back_at": at, "satisfaction": "satisfied", "callback_note": "压测回访"},
}


# -- what happened, as the users saw it -------------------------------------------------------


@dataclass
class Record:
    kind: str
    status: int
    seconds: float


@dataclass
class Tally:
    """Everything the users saw, appended from many threads (list.append is atomic)."""

    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)            # transport errors, lost sessions
    unexpected: list[str] = field(default_factory=list)        # 4xx and refusals that should not be
    edits_accepted: list[tuple[str, int, str, str]] = field(default_factory=list)  # table, id, field, value
    edits_stale: list[tuple[str, int, str, str]] = field(default_factory=list)
    transitions: list[tuple[int, str, str]] = field(default_factory=list)  # ticket, name, outcome
    logins: Counter = field(default_factory=Counter)
    created: list[int] = field(default_factory=list)


class FormParser(HTMLParser):
    """The fields of the page's ``admin-form`` as a browser would post them back."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "admin-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value", "y")
            else:
                self.fields[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(page: str) -> dict[str, str]:
    parser = FormParser()
    parser.feed(page)
    fields = parser.fields
    for name, value in fields.items():  # a browser drops the newline that opens a textarea
        if value.startswith("\n"):
            fields[name] = value[1:]
    return fields


def alerts(page: str) -> list[tuple[str, str]]:
    """(Bootstrap class, text) of each flashed message on a page."""
    return [(kind, re.sub(r"<[^>]+>|&times;|\s+", " ", body).strip())
            for kind, body in re.findall(r'<div class="alert alert-(\w+)[^"]*"[^>]*>(.*?)</div>', page, re.S)]


def local_now(minutes_back: int = 0) -> datetime:
    """The app's own clock (the street's local time), for the times a form is sent."""
    from models import now

    return now().replace(microsecond=0) - timedelta(minutes=minutes_back)


# -- one person at a browser ---------------------------------------------------------------------


class SessionLost(Exception):
    pass


class User:
    def __init__(self, number: int, account: str, role: str, base: str, tally: Tally,
                 shared: "Shared", seed: int) -> None:
        self.number, self.account, self.role = number, account, role
        self.base, self.tally, self.shared = base, tally, shared
        self.http = requests.Session()
        self.random = random.Random(seed)
        self.token = ""
        self.seen: dict[str, list[int]] = {}   # ids on the lists this user last opened
        # the service center's staff do not see the repair station's tickets (Perms station=)
        self.tables = ("complaint",) if role == "complaints" else ("repair_ticket", "complaint")
        self.edits = 0

    # requests, timed and recorded
    def request(self, kind: str, method: str, path: str, follow: bool = False,
                expect: tuple[int, ...] = (200, 302), **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, allow_redirects=follow,
                                         timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.tally.errors.append(f"{kind} {path}: {type(exc).__name__}: {exc}")
            raise SessionLost(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.tally.records.append(Record(kind, response.status_code, elapsed))
        location = response.headers.get("Location", "")
        if kind != "login" and ("/login" in location or response.url.split("?")[0].endswith("/login")):
            self.tally.errors.append(f"{kind} {path}: 会话丢失（被送回登录页）— {self.account}")
            raise SessionLost(path)
        if response.status_code not in expect and response.status_code < 500:
            self.tally.unexpected.append(f"{kind} {path}: HTTP {response.status_code}")
        return response

    def get(self, kind: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(kind, "GET", path, **kwargs)

    def post(self, kind: str, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        return self.request(kind, "POST", path, data={"csrf_token": self.token, **data}, **kwargs)

    def login(self) -> None:
        page = self.get("login", "/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = self.request("login", "POST", "/login", expect=(302,), data={
            "csrf_token": token, "username": self.account, "password": PASSWORD})
        if response.status_code != 302:
            self.tally.errors.append(f"登录失败 {self.account}: HTTP {response.status_code} "
                                     f"{alerts(response.text)}")
            raise SessionLost("login")
        self.tally.logins[self.account] += 1
        home = self.get("dashboard", "/admin/").text
        self.token = re.search(r'<meta name="csrf-token" content="([^"]+)"', home).group(1)

    # what people do
    def act(self, what: str) -> None:
        getattr(self, f"do_{what}")()

    def do_list(self) -> None:
        table = self.random.choice(self.tables)
        query = self.random.choice(("", "?search=维修" if table == "repair_ticket" else "?search=物业",
                                    "?flt0_0=" + ("completed" if table == "repair_ticket" else "closed"),
                                    "?page=1&sort=0&desc=1"))
        page = self.get("list", f"/admin/{table}/{query}").text
        self.seen[table] = [int(i) for i in re.findall(rf"/admin/{table}/details/\?id=(\d+)", page)]

    def do_details(self) -> None:
        table = self.random.choice(self.tables)
        if not self.seen.get(table):
            page = self.get("list", f"/admin/{table}/").text
            self.seen[table] = [int(i) for i in re.findall(rf"/admin/{table}/details/\?id=(\d+)", page)]
        if self.seen[table]:
            self.get("details", f"/admin/{table}/details/?id={self.random.choice(self.seen[table])}")

    def do_dashboard(self) -> None:
        self.get("dashboard", "/admin/")

    def do_export(self) -> None:
        table = self.random.choice(self.tables)
        response = self.get("export", f"/admin/{table}/export/csv/")
        if response.status_code == 200 and not response.content.startswith(b"\xef\xbb\xbf"):
            self.tally.unexpected.append(f"export {table}: 不是 CSV")

    def _edit(self, table: str, row: int, name: str) -> None:
        url = f"/admin/{table}/edit/?id={row}"
        fields = form_fields(self.get("edit_form", url).text)
        fields.pop("csrf_token", None)
        self.edits += 1
        value = f"{MARK}-u{self.number}-{self.edits}"
        fields[name] = value
        time.sleep(self.random.uniform(0, 0.3))  # typing: others may save meanwhile
        response = self.post("edit_save", url, fields)
        if response.status_code == 302:
            self.tally.edits_accepted.append((table, row, name, value))
            return
        messages = alerts(response.text)
        if any(STALE in text for _, text in messages):
            self.tally.edits_stale.append((table, row, name, value))
        else:
            self.tally.unexpected.append(f"edit {table} {row}: HTTP {response.status_code} {messages}")

    def do_edit_ticket(self) -> None:
        self._edit("repair_ticket", self.random.choice(self.shared.edit_tickets), "address")

    def do_edit_complaint(self) -> None:
        self._edit("complaint", self.random.choice(self.shared.edit_complaints), "content")

    def do_create(self) -> None:
        fields = form_fields(self.get("create_form", "/admin/repair_ticket/new/").text)
        fields.pop("csrf_token", None)
        fields.update({
            "estate": str(self.random.choice(self.shared.estates)),
            "call_at": f"{local_now(minutes_back=10):%Y-%m-%d %H:%M:%S}",
            "caller": f"压测来电{self.number}", "phone": "13800000000", "address": "新报修（压测脚本）",
            "category": self.random.choice(("water", "power", "drain", "other")),
            "description": "压测：新的报修", "_continue_editing": "保存并继续编辑"})
        response = self.post("create", "/admin/repair_ticket/new/", fields)
        found = re.search(r"[?&]id=(\d+)", response.headers.get("Location", ""))
        if response.status_code == 302 and found:
            ticket = int(found.group(1))
            self.tally.created.append(ticket)
            self.shared.add(ticket)
        else:
            self.tally.unexpected.append(f"create: HTTP {response.status_code} {alerts(response.text)}")

    def do_transition(self) -> None:
        ticket = self.shared.pick(self.random)
        if ticket is None:
            return self.do_create()
        page = self.get("details", f"/admin/repair_ticket/details/?id={ticket}").text
        offered = list(dict.fromkeys(re.findall(
            rf"/admin/repair_ticket/transition/(\w+)/\?id={ticket}\b", page)))
        if not offered:
            self.shared.done(ticket)
            return
        forward = [t for t in offered if t != "refer"]
        name = "refer" if "refer" in offered and (not forward or self.random.random() < 0.1) \
            else self.random.choice(forward)
        at = f"{local_now():%Y-%m-%dT%H:%M}"
        response = self.post("transition", f"/admin/repair_ticket/transition/{name}/?id={ticket}",
                             TRANSITION_PARAMS[name](at), follow=True)
        messages = alerts(response.text)
        if any(kind == "success" and "→" in text for kind, text in messages):
            outcome = "accepted"
        elif any(STALE in text for _, text in messages):
            outcome = "stale"
        elif any(WRONG_STATE in text for _, text in messages):
            outcome = "taken"          # someone else moved it first: refused with the reason
        else:
            outcome = "other"
            self.tally.unexpected.append(f"transition {name} {ticket}: HTTP {response.status_code} {messages}")
        self.tally.transitions.append((ticket, name, outcome))

    def run(self, deadline: float, think: float) -> None:
        mix = MIXES[self.role]
        kinds, weights = list(mix), list(mix.values())
        try:
            self.login()
            while time.perf_counter() < deadline:
                self.act(self.random.choices(kinds, weights)[0])
                if think:
                    time.sleep(self.random.uniform(0, 2 * think))
        except SessionLost:
            pass
        except Exception as exc:  # a bug of the script itself must not pass as a quiet run
            self.tally.errors.append(f"用户 {self.number}（{self.account}）脚本异常：{type(exc).__name__}: {exc}")
        finally:
            self.http.close()  # no idle keep-alive connection holds up gunicorn's shutdown


class Shared:
    """What several users work on at once: the rows they edit, the tickets they move on."""

    def __init__(self, estates: list[int], edit_tickets: list[int], edit_complaints: list[int],
                 open_tickets: list[int]) -> None:
        self.estates, self.edit_tickets, self.edit_complaints = estates, edit_tickets, edit_complaints
        self._open = list(open_tickets)
        self._lock = threading.Lock()

    def add(self, ticket: int) -> None:
        with self._lock:
            self._open.append(ticket)

    def done(self, ticket: int) -> None:
        with self._lock:
            if ticket in self._open:
                self._open.remove(ticket)

    def pick(self, rng: random.Random) -> int | None:
        with self._lock:
            # the few newest: several people push the same ticket at once
            return rng.choice(self._open[-6:]) if self._open else None


# -- the database and the server ------------------------------------------------------------------


def create_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
               "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--timeout", "120",
               "--error-logfile", "-", "app:create_app()"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn 未能启动：\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError("gunicorn 30 秒内没有应答")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def choose_rows(url: str) -> dict[str, list[int]]:
    """The rows the run works on, from the demo data."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        street = conn.execute(text(
            "SELECT s.street_id FROM user_street s JOIN app_user u ON u.id = s.user_id "
            "WHERE u.username = 'station'")).scalar_one()
        estates = conn.execute(text(
            "SELECT e.id FROM estate e JOIN community c ON c.id = e.community_id "
            "WHERE c.street_id = :s ORDER BY e.id LIMIT 3"), {"s": street}).scalars().all()
        tickets = conn.execute(text("SELECT id FROM repair_ticket ORDER BY id LIMIT 3")).scalars().all()
        complaints = conn.execute(text("SELECT id FROM complaint ORDER BY id LIMIT 3")).scalars().all()
    engine.dispose()
    return {"estates": list(estates), "tickets": list(tickets), "complaints": list(complaints)}


# -- checking what the server kept against what the users saw --------------------------------------


@dataclass
class Entry:
    id: int
    action: str
    changes: dict | None
    note: str | None


def check(url: str, tally: Tally) -> list[str]:
    """Every failed check, in words (empty: all hold)."""
    from sqlalchemy import create_engine, text

    from models.kernel.audit import verify_chain
    from models.repairs import RepairTicket
    from models.tallies import case_drift

    problems: list[str] = []
    engine = create_engine(url)
    with engine.connect() as conn:
        def trail(table: str, row: int) -> list[Any]:
            entries = conn.execute(text(
                "SELECT id, action, changes, note FROM audit_log WHERE model = :m AND row_id = :r "
                "ORDER BY id"), {"m": table, "r": str(row)}).all()
            # psycopg reads JSON into dicts; SQLite hands back its text
            return [Entry(e.id, e.action, json.loads(e.changes) if isinstance(e.changes, str) else e.changes,
                          e.note) for e in entries]

        # edits: nothing accepted is missing, nothing refused is kept, one chain per field
        accepted: dict[tuple[str, int, str], set[str]] = defaultdict(set)
        for table, row, name, value in tally.edits_accepted:
            accepted[(table, row, name)].add(value)
        refused = {(t, r, n, v) for t, r, n, v in tally.edits_stale}
        targets = {(t, r, n) for t, r, n, _ in tally.edits_accepted + tally.edits_stale}
        for table, row, name in sorted(targets):
            chain = [(entry.changes or {})[name] for entry in trail(table, row)
                     if name in (entry.changes or {})]
            kept = conn.execute(text(f'SELECT "{name}" FROM "{table}" WHERE id = :r'), {"r": row}).scalar_one()
            news = [new for _, new in chain]
            for value in accepted[(table, row, name)]:
                if news.count(value) != 1:
                    problems.append(f"丢失更新：{table} {row} 的「{name}」= {value!r} 服务器已接受，"
                                    f"操作日志中出现 {news.count(value)} 次")
            theirs = {v for v in news if isinstance(v, str) and v.startswith(MARK)}
            for value in theirs - accepted[(table, row, name)]:
                problems.append(f"{table} {row} 的「{name}」= {value!r} 在操作日志中，却没有被接受")
            for (old, _), (_, previous) in zip(chain[1:], chain):
                if old != previous:
                    problems.append(f"{table} {row} 的「{name}」操作日志断链：{previous!r} 之后记为从 {old!r} 修改")
                    break
            if not chain or news[-1] != kept:
                problems.append(f"{table} {row} 的「{name}」现值 {kept!r} 不是操作日志的最后一次修改 "
                                f"{news[-1] if news else None!r}")
            for t, r, n, value in refused:
                if (t, r, n) == (table, row, name) and (value in news or value == kept):
                    problems.append(f"被拒绝的过期修改留下了痕迹：{table} {row} 「{name}」= {value!r}")

        # transitions: exactly those accepted, and one chain of states per ticket
        labels = {t.label: t.name for t in RepairTicket.__admin__.workflow.transitions}
        by_ticket: dict[int, Counter] = defaultdict(Counter)
        for ticket, name, outcome in tally.transitions:
            if outcome == "accepted":
                by_ticket[ticket][name] += 1
        for ticket in sorted({t for t, _, _ in tally.transitions}):
            entries = trail("repair_ticket", ticket)
            done = Counter(labels.get((e.note or "").split("：")[0], e.note) for e in entries
                           if e.action == "transition")
            if done != by_ticket[ticket]:
                problems.append(f"报修单 {ticket}：服务器接受的流转 {dict(by_ticket[ticket])}，"
                                f"操作日志记载 {dict(done)}")
            states = [(e.changes or {})["state"] for e in entries if "state" in (e.changes or {})]
            state = conn.execute(text("SELECT state FROM repair_ticket WHERE id = :r"), {"r": ticket}).scalar_one()
            if any(old != previous for (old, _), (_, previous) in zip(states[1:], states)):
                problems.append(f"报修单 {ticket} 的状态变化断链：{states}")
            if not states or states[-1][1] != state:
                problems.append(f"报修单 {ticket} 现状态 {state} 不是操作日志的最后一次流转 {states[-1:]}")

        # logins
        for account, count in tally.logins.items():
            logged = conn.execute(text(
                "SELECT count(*) FROM audit_log a JOIN app_user u ON u.id = a.user_id "
                "WHERE a.action = 'login' AND u.username = :u"), {"u": account}).scalar_one()
            if logged != count:
                problems.append(f"账号 {account}：成功登录 {count} 次，操作日志记载 {logged} 次")

        # the tallies the flush hooks kept, against the records
        drift = case_drift(conn)
        for (estate, month), kept, counted in drift[:10]:
            problems.append(f"月度汇总不一致：小区 {estate} {month:%Y-%m} 汇总 {kept}，按记录 {counted}")

        # one chain through every entry, though many wrote at once
        _, broken, _, _ = verify_chain(conn)
        if broken:
            problems.append(f"操作日志哈希链断开：{broken}")
    engine.dispose()
    return problems


# -- the report ------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in tally.records:
        by_kind[r.kind].append(r.seconds)
    every = [r.seconds for r in tally.records]
    classes = Counter(f"{r.status // 100}xx" for r in tally.records)

    def figures(values: list[float]) -> dict[str, float]:
        return {"count": len(values), "p50_ms": round(1000 * statistics.median(values), 1),
                "p95_ms": round(1000 * percentile(values, 95), 1),
                "p99_ms": round(1000 * percentile(values, 99), 1),
                "max_ms": round(1000 * max(values), 1)}

    outcomes = Counter(outcome for _, _, outcome in tally.transitions)
    return {
        "requests": len(tally.records), "seconds": round(elapsed, 1),
        "throughput_per_s": round(len(tally.records) / elapsed, 1) if elapsed else 0.0,
        "all": figures(every) if every else {},
        "kinds": {k: figures(v) for k, v in sorted(by_kind.items())},
        "status": {c: classes.get(c, 0) for c in ("2xx", "3xx", "4xx", "5xx")},
        "edits_accepted": len(tally.edits_accepted), "edits_stale_refused": len(tally.edits_stale),
        "transitions": {k: outcomes.get(k, 0) for k in ("accepted", "stale", "taken", "other")},
        "tickets_created": len(tally.created), "logins": sum(tally.logins.values()),
        "errors": len(tally.errors), "unexpected": len(tally.unexpected),
    }


KIND_LABELS = {"login": "登录", "list": "列表（搜索/筛选/排序）", "details": "详情", "dashboard": "首页",
               "edit_form": "打开编辑页", "edit_save": "保存编辑", "create_form": "打开新增页",
               "create": "新增报修单", "transition": "流转（含跳转后的详情页）", "export": "导出 CSV"}


def print_report(s: dict[str, Any], args: argparse.Namespace, problems: list[str]) -> None:
    print(f"\n== 压测结果：{args.users} 个用户，{s['seconds']} 秒，gunicorn {args.workers} 个 worker × "
          f"{args.threads} 线程，PostgreSQL ==")
    print(f"请求 {s['requests']} 个，吞吐 {s['throughput_per_s']} 请求/秒；全部请求 p50 {s['all'].get('p50_ms')} ms，"
          f"p95 {s['all'].get('p95_ms')} ms，p99 {s['all'].get('p99_ms')} ms")
    print(f"{'请求类型':<24}{'次数':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'最长 ms':>9}")
    for kind, f in s["kinds"].items():
        label = KIND_LABELS.get(kind, kind)
        pad = 24 - sum(2 if ord(ch) > 127 else 1 for ch in label) + len(label)
        print(f"{label:<{pad}}{f['count']:>7}{f['p50_ms']:>9}{f['p95_ms']:>9}{f['p99_ms']:>9}{f['max_ms']:>9}")
    st = s["status"]
    print(f"状态码：2xx {st['2xx']}，3xx {st['3xx']}，4xx {st['4xx']}，5xx {st['5xx']}")
    t = s["transitions"]
    print(f"编辑：接受 {s['edits_accepted']}，因过期被拒绝 {s['edits_stale_refused']}；"
          f"流转：接受 {t['accepted']}，过期被拒 {t['stale']}，已被他人先流转 {t['taken']}，其他 {t['other']}；"
          f"新增报修单 {s['tickets_created']}；登录 {s['logins']}")
    print(f"本机 {s['machine']['cpus']} 个 CPU，压测结束时 1 分钟平均负载 {s['machine']['load_average_1min']}"
          f"（模拟用户与服务器在同一台机器上）")
    lost = sum(1 for p in problems if p.startswith("丢失更新"))
    print(f"5xx = {st['5xx']}，丢失更新 = {lost}")
    if problems:
        print(f"\n未通过的检查（{len(problems)}）：")
        for p in problems[:40]:
            print(f"  - {p}")
    else:
        print("检查全部通过：无 5xx；每个被接受的修改都在操作日志中且为最终值；过期修改未留痕迹；"
              "流转与操作日志一致；登录均有记录；月度汇总与记录一致")


# -- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="并发压测：gunicorn + PostgreSQL（仅本机回环）")
    parser.add_argument("--users", type=int, default=40, help="同时在线的用户数（默认 40）")
    parser.add_argument("--duration", type=float, default=60, help="压测秒数（默认 60，上限 600）")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker 数（默认 4）")
    parser.add_argument("--threads", type=int, default=4, help="每个 worker 的线程数（默认 4）")
    parser.add_argument("--think", type=float, default=0.05,
                        help="两次操作之间的平均停顿秒数（默认 0.05）")
    parser.add_argument("--tickets", type=int, default=12, help="开始前新建、供流转的报修单数（默认 12）")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=OUT / "load.json", help="结果另存为 JSON")
    parser.add_argument("--keep", action="store_true", help="保留数据库和日志，供事后查看")
    args = parser.parse_args(argv)
    if not (1 <= args.users <= 200 and 1 <= args.duration <= 600):
        parser.error("--users 取 1–200，--duration 取 1–600 秒")

    try:
        import psycopg

        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except Exception as exc:
        print(f"PostgreSQL 在 127.0.0.1:5432 没有应答（{type(exc).__name__}），压测需要它：{exc}")
        return 2
    name = f"wuye_load_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="wuye-load-"))
    env = {**os.environ, "FLASK_APP": "app", "SECRET_KEY": secrets.token_hex(32),
           "INSTANCE_PATH": str(work / "instance"), "APP_ENV": "development"}
    server = None
    try:
        print(f"建库 {name}：flask db upgrade、flask seed demo …", flush=True)
        url = create_database(name)
        env["DATABASE_URL"] = url
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        for command in (["db", "upgrade"], ["seed", "demo"]):
            done = subprocess.run([*flask, *command], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"flask {' '.join(command)} 失败：\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
        rows = choose_rows(url)
        port = free_port()
        log = work / "gunicorn.log"
        print(f"启动 gunicorn：127.0.0.1:{port}，{args.workers} × {args.threads}（gthread）…", flush=True)
        server = start_server(env, port, args.workers, args.threads, log)
        base = f"http://127.0.0.1:{port}"

        # the tickets to move on, entered through the screen before the clock starts
        setup = Tally()
        shared = Shared(rows["estates"], rows["tickets"], rows["complaints"], [])
        clerk = User(0, "station", "tickets", base, setup, shared, args.seed)
        clerk.login()
        for _ in range(args.tickets):
            clerk.do_create()
        if setup.errors or setup.unexpected or len(setup.created) != args.tickets:
            raise RuntimeError(f"准备报修单失败：{setup.errors[:3]} {setup.unexpected[:3]}")
        shared.edit_tickets = rows["tickets"] + setup.created[:2]  # edits and transitions collide

        tally = Tally()
        users = [User(i + 1, *ACCOUNTS[i % len(ACCOUNTS)], base, tally, shared, args.seed * 1000 + i)
                 for i in range(args.users)]
        print(f"{args.users} 个用户同时登录并工作 {args.duration:g} 秒 …", flush=True)
        started = time.perf_counter()
        deadline = started + args.duration
        threads = [threading.Thread(target=u.run, args=(deadline, args.think), daemon=True) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.duration + 120)
        elapsed = time.perf_counter() - started
        stop_server(server)
        server_log = log.read_text(errors="replace")
        tally.created[:0] = setup.created  # the report counts the set-up's tickets too
        tally.logins.update(setup.logins)

        problems = [f"传输错误或会话丢失：{e}" for e in tally.errors[:10]]
        problems += [f"意外的响应：{u}" for u in tally.unexpected[:10]]
        fives = [r for r in tally.records if r.status >= 500]
        if fives:
            problems.append(f"{len(fives)} 个 5xx 响应（服务器日志见 {log if args.keep else '下方'}）")
            if not args.keep:
                print(server_log[-4000:])
        if any(t.is_alive() for t in threads):
            problems.append("有用户在时限后 120 秒仍未结束")
        problems += check(url, tally)
        s = summary(tally, elapsed)
        s["checks_failed"] = problems
        s["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        # the generator shares the machine with the server: say how busy it was
        s["machine"] = {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 1)}
        print_report(s, args, problems)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(s, ensure_ascii=False, indent=2))
        print(f"结果已写入 {args.json}")
        return 1 if problems else 0
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            print(f"数据库 {name} 与日志 {work} 已保留（DROP DATABASE \"{name}\" 删除）")
        else:
            drop_database(name)
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
