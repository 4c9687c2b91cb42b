"""Security under attack: login throttling, sessions that end, cookies, password rules,
the headers every response carries, and return targets that cannot leave the site.

Time is moved by replacing the clock the login code reads (``views.auth.now``); the
fixed times are of today, so nothing depends on which day the suite runs.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from app import create_app
from models import db, now
from models.accounts import LoginThrottle, User
from models.kernel.audit import AuditAction, AuditLog
from models.governance import Community, Street

from .helpers import PASSWORD, Client, count_statements, field_errors, flashes, row_id
from .probes import read_form

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    """The login code's clock, set and moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def move(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(datetime.combine(now().date(), time(9, 0)))
    monkeypatch.setattr("views.auth.now", c)
    return c


def attempt(c: Client, username: str, password: str, address: str = "127.0.0.1", next_: str = ""):
    """One try at the login form, as a browser at ``address`` makes it."""
    c.http.environ_base["REMOTE_ADDR"] = address
    page = c.get("/login", query_string={"next": next_} if next_ else None)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    return c.http.post("/login", query_string={"next": next_} if next_ else None,
                       data={"csrf_token": token, "username": username, "password": password})


def audit_notes(app, *actions: AuditAction, since: int = 0) -> list[tuple[AuditAction, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditLog.action, AuditLog.note).where(
            AuditLog.id > since, AuditLog.action.in_([a.value for a in actions]))
            .order_by(AuditLog.id)).all()
        return [(a, n) for a, n in rows]


def last_audit_id(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.max(AuditLog.id))) or 0


LOCKED = "登录失败次数过多，已暂时锁定，请在 09:15 之后再试"


# -- login throttling ------------------------------------------------------------------

def test_five_failures_lock_the_name_for_fifteen_minutes_even_for_the_right_password(app, clock):
    start = last_audit_id(app)
    c = Client(app)
    for i in range(4):
        r = attempt(c, "street", f"wrong-{i}-pass9")
        assert r.status_code == 200 and "登录名或密码错误" in r.text
        clock.move(minutes=1)
    fifth = attempt(c, "street", "wrong-4-pass9")      # at 09:04
    assert fifth.status_code == 429
    assert flashes(fifth.text) == ["登录失败次数过多，已暂时锁定，请在 09:19 之后再试"]

    clock.move(minutes=14, seconds=59)              # 09:18:59: still locked
    right = attempt(c, "street", PASSWORD)
    assert right.status_code == 429 and "请在 09:19 之后再试" in right.text
    assert c.get("/admin/").status_code == 302      # not logged in

    clock.move(seconds=2)                           # 09:19:01: the lock is over
    assert attempt(c, "street", PASSWORD).status_code == 302
    assert c.get("/admin/").status_code == 200

    logged = audit_notes(app, AuditAction.LOGIN_FAILED, AuditAction.LOGIN_LOCKED, since=start)
    assert [a for a, _ in logged] == [AuditAction.LOGIN_FAILED] * 5 + [AuditAction.LOGIN_LOCKED] \
        + [AuditAction.LOGIN_FAILED]
    assert all(n == f"登录失败：street（来自 127.0.0.1）" for _, n in logged[:5])
    assert "登录名「street」在 15 分钟内登录失败过多，锁定至" in logged[5][1]
    # the refused right password was counted, and reported once when the lock was over
    assert logged[6][1] == "登录名「street」另有 1 次登录尝试未核对密码即被拒绝（锁定期间或同时尝试过多），未逐次记录"


def test_failures_spread_beyond_the_window_do_not_lock(app, clock):
    c = Client(app)
    for _ in range(8):                              # one failure every four minutes
        assert attempt(c, "street", "wrong-pass9").status_code == 200
        clock.move(minutes=4)
    # four in any fifteen minutes at most: counting restarts when the window has passed
    assert attempt(c, "street", PASSWORD).status_code == 302


def test_a_lock_does_not_tell_whether_the_name_exists(app, clock):
    answers = {}
    for name in ("street", "no-such-user"):
        c = Client(app)
        pages = [attempt(c, name, "wrong-pass9") for _ in range(5)]
        answers[name] = [(p.status_code, flashes(p.text)) for p in pages]
        clock.move(seconds=1)
    assert answers["street"] == answers["no-such-user"]
    assert answers["street"][-1] == (429, [LOCKED])
    assert answers["street"][0] == (200, ["登录名或密码错误，或账号已停用"])


def test_a_successful_login_resets_the_count(app, clock):
    for _ in range(4):
        attempt(Client(app), "street", "wrong-pass9")
    assert attempt(Client(app), "street", PASSWORD).status_code == 302
    for _ in range(4):                              # four more: eight in the window, but reset
        assert attempt(Client(app), "street", "wrong-pass9").status_code == 200
    assert attempt(Client(app), "street", PASSWORD).status_code == 302
    with app.app_context():
        row = db.session.scalar(db.select(LoginThrottle).filter_by(kind="username", key="street"))
        assert (row.failures, row.window_started_at, row.locked_until) == (0, None, None)


def test_a_lock_is_per_name_and_case_blind(app, clock):
    for _ in range(5):
        attempt(Client(app), "Street", "wrong-pass9")
    assert attempt(Client(app), "street", PASSWORD).status_code == 429
    assert attempt(Client(app), "leader", PASSWORD).status_code == 302   # others are not locked


def test_many_failures_from_one_address_lock_that_address(app, clock):
    names = [f"guess{i}" for i in range(20)]        # a spray: each name fails once
    for name in names[:19]:
        assert attempt(Client(app), name, "wrong-pass9", address="203.0.113.9").status_code == 200
    r = attempt(Client(app), names[19], "wrong-pass9", address="203.0.113.9")
    assert r.status_code == 429 and LOCKED in r.text
    # a real account from that address is refused too, from another address it is not
    assert attempt(Client(app), "leader", PASSWORD, address="203.0.113.9").status_code == 429
    assert attempt(Client(app), "leader", PASSWORD, address="198.51.100.7").status_code == 302
    locks = audit_notes(app, AuditAction.LOGIN_LOCKED)
    assert any("地址 203.0.113.9" in n for _, n in locks)


def test_the_lock_ends_early_by_the_cli(app, clock):
    for _ in range(5):
        attempt(Client(app), "street", "wrong-pass9")
    result = app.test_cli_runner().invoke(app.cli, ["users", "unlock", "street"])
    assert result.exit_code == 0 and "已解除锁定（1 项）" in result.output
    assert attempt(Client(app), "street", PASSWORD).status_code == 302


def test_a_lock_past_midnight_names_the_day(app, monkeypatch):
    late = Clock(datetime.combine(now().date(), time(23, 50)))
    monkeypatch.setattr("views.auth.now", late)
    for _ in range(4):
        attempt(Client(app), "street", "wrong-pass9")
    r = attempt(Client(app), "street", "wrong-pass9")
    tomorrow = late.at + timedelta(minutes=15)
    assert flashes(r.text) == [f"登录失败次数过多，已暂时锁定，请在 {tomorrow:%m月%d日} 00:05 之后再试"]


def test_the_throttle_lives_in_the_database(app, clock):
    """Several app servers share one database: the count is a row, not process memory."""
    for _ in range(3):
        attempt(Client(app), "street", "wrong-pass9")
    with app.app_context():
        row = db.session.scalar(db.select(LoginThrottle).filter_by(kind="username", key="street"))
        assert (row.failures, row.locked_until) == (3, None)


def test_a_lock_set_while_the_right_password_is_checked_refuses_it(app, clock, monkeypatch):
    """Another server locks the name while this right password is being checked: refused
    all the same (a right password used to log in after the lock was set)."""
    import models.accounts

    real = models.accounts.check_password_hash

    def meanwhile(hashed: str, password: str) -> bool:
        db.session.execute(db.update(LoginThrottle).filter_by(kind="username", key="street")
                           .values(locked_until=clock.at + timedelta(minutes=15)))
        return real(hashed, password)

    monkeypatch.setattr(models.accounts, "check_password_hash", meanwhile)
    start = last_audit_id(app)
    c = Client(app)
    r = attempt(c, "street", PASSWORD)
    assert r.status_code == 429 and flashes(r.text) == [LOCKED]
    assert c.get("/admin/").status_code == 302
    assert audit_notes(app, AuditAction.LOGIN, since=start) == []


def test_attempts_beyond_the_limit_still_being_checked_wait_then_are_refused(app, clock, monkeypatch):
    """Five attempts at "street" are being checked (on other servers): a sixth waits for them
    to settle, and when they do not, is refused without its password being looked at."""
    import models.accounts

    monkeypatch.setattr("views.auth.CROWD_WAIT_SECONDS", 0.2)
    checked = []
    monkeypatch.setattr(models.accounts, "check_password_hash", lambda *a: checked.append(a) or True)
    with app.app_context():
        db.session.add(LoginThrottle(kind="username", key="street", failures=5, window_started_at=clock.at))
        db.session.commit()
    r = attempt(Client(app), "street", PASSWORD)
    assert r.status_code == 429 and flashes(r.text) == ["同时尝试登录的次数过多，请稍后再试"]
    assert checked == []
    with app.app_context():
        row = db.session.scalar(db.select(LoginThrottle).filter_by(kind="username", key="street"))
        assert (row.failures, row.refused, row.locked_until) == (5, 1, None)   # taken back, counted


def lock(app, username: str) -> None:
    for _ in range(5):
        attempt(Client(app), username, "wrong-pass9")


def test_attempts_while_locked_are_counted_not_each_written(app, clock):
    """A flood against a locked name (400 requests in 1.2 s added 422 audit rows) adds no
    row per attempt: the lock is written once, the refusals counted on the throttle row
    and reported in one row — by ``users unlock``, or by the first attempt after the lock."""
    lock(app, "street")
    start = last_audit_id(app)
    for i in range(40):                          # wrong and right passwords, two addresses
        r = attempt(Client(app), "street", PASSWORD if i % 4 == 0 else f"wrong-{i}-pass9",
                    address="127.0.0.1" if i % 2 else "198.51.100.7")
        assert r.status_code == 429 and flashes(r.text) == [LOCKED]
    assert last_audit_id(app) == start          # nothing written per attempt
    with app.app_context():
        row = db.session.scalar(db.select(LoginThrottle).filter_by(kind="username", key="street"))
        assert row.refused == 40
    result = app.test_cli_runner().invoke(app.cli, ["users", "unlock", "street"])
    assert result.exit_code == 0
    assert "已解除锁定（1 项）：street（另有 40 次尝试未核对密码即被拒绝）" in result.output
    notes = audit_notes(app, AuditAction.ACTION, since=start)
    assert notes == [(AuditAction.ACTION, "解除登录锁定：street（另有 40 次尝试未核对密码即被拒绝）")]

    lock(app, "leader")                          # this one is left to run out
    start = last_audit_id(app)
    for _ in range(25):
        assert attempt(Client(app), "leader", "wrong-pass9").status_code == 429
    assert last_audit_id(app) == start
    clock.move(minutes=15, seconds=1)
    assert attempt(Client(app), "leader", PASSWORD).status_code == 302
    assert audit_notes(app, AuditAction.LOGIN_FAILED, AuditAction.LOGIN_LOCKED, AuditAction.LOGIN,
                       since=start) == [
        (AuditAction.LOGIN_FAILED,
         "登录名「leader」另有 25 次登录尝试未核对密码即被拒绝（锁定期间或同时尝试过多），未逐次记录"),
        (AuditAction.LOGIN, "登录成功（来自 127.0.0.1）")]


def auth_errors(page: str) -> dict[str, list[str]]:
    """Field -> its error messages, on the login and password pages (templates/auth/_field.html)."""
    found: dict[str, list[str]] = {}
    for name, rest in re.findall(r'<input[^>]* id="(\w+)"[^>]*>((?:\s*<div class="invalid-feedback">.*?</div>)*)', page):
        errors = re.findall(r'<div class="invalid-feedback">(.*?)</div>', rest)
        if errors:
            found[name] = errors
    return found


def test_a_nul_in_the_login_form_is_a_form_error_and_no_query(app):
    c = Client(app)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    with count_statements(app) as statements:
        r = c.http.post("/login", data={"csrf_token": token, "username": "a\x00b", "password": "x\x00y"})
    assert r.status_code == 200
    assert auth_errors(r.text) == {"username": ["不能包含空字符（\\0）"], "password": ["不能包含空字符（\\0）"]}
    assert statements == []                     # on PostgreSQL a NUL in a query is a 500


# -- the current password of 修改密码: the login's throttle and audit --------------------------

def change_password(c: Client, current: str, new: str = "Mulberry-2048"):
    return c.post("/account/password", {"current": current, "new": new, "confirm": new})


def test_the_current_password_is_throttled_and_audited_like_a_login(app, clock):
    """25 guesses at the current password went unthrottled and unrecorded, then the change
    went through. Now they count against the name like wrong logins: locked after five,
    the right one refused while locked, a login too."""
    start = last_audit_id(app)
    c = Client(app).login("street")
    for i in range(4):
        r = change_password(c, f"guess-{i}-pass9")
        assert r.status_code == 200 and auth_errors(r.text) == {"current": ["当前密码不正确"]}
        clock.move(minutes=1)
    fifth = change_password(c, "guess-4-pass9")        # 09:04
    assert fifth.status_code == 429
    assert flashes(fifth.text) == ["登录失败次数过多，已暂时锁定，请在 09:19 之后再试"]
    for guess in ["guess-5-pass9"] * 20 + [PASSWORD]:  # more guesses, then the right one
        r = change_password(c, guess)
        assert r.status_code == 429 and "请在 09:19 之后再试" in r.text
    assert attempt(Client(app), "street", PASSWORD).status_code == 429   # one lock for the name
    with app.app_context():
        assert db.session.get(User, row_id(app, User, username="street")).check_password(PASSWORD)
    logged = audit_notes(app, AuditAction.LOGIN_FAILED, AuditAction.LOGIN_LOCKED,
                         AuditAction.PASSWORD_CHANGED, since=start)
    assert logged == [(AuditAction.LOGIN_FAILED, "修改密码时当前密码不正确：street（来自 127.0.0.1）")] * 5 \
        + [(AuditAction.LOGIN_LOCKED, logged[5][1])]
    assert logged[5][1].startswith("登录名「street」在 15 分钟内登录失败过多，锁定至")

    clock.move(minutes=15)                            # 09:19: over
    assert change_password(c, PASSWORD).status_code == 302
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(
            AuditLog.id > start, AuditLog.action == AuditAction.PASSWORD_CHANGED.value))
        assert entry.user_id == row_id(app, User, username="street") and entry.row_label == "街道物业办 王敏（street）"
        # recorded as 修改密码, not as an edit of the account
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog).where(
            AuditLog.id > start, AuditLog.model == "app_user", AuditLog.action == AuditAction.UPDATE.value)) == 0
    assert Client(app).login("street", "Mulberry-2048").get("/admin/").status_code == 200


def test_wrong_logins_and_wrong_current_passwords_share_one_count(app, clock):
    c = Client(app).login("street")
    for _ in range(3):
        assert attempt(Client(app), "street", "wrong-pass9").status_code == 200
    assert change_password(c, "guess-1-pass9").status_code == 200
    assert change_password(c, "guess-2-pass9").status_code == 429   # the fifth failure for the name
    assert attempt(Client(app), "street", PASSWORD).status_code == 429


def test_a_right_current_password_resets_the_count(app, clock):
    c = Client(app).login("street")
    for _ in range(4):
        change_password(c, "guess-pass9")
    r = change_password(c, PASSWORD, new="short")     # right, but the new one is refused
    assert r.status_code == 200 and auth_errors(r.text) == {"new": ["密码至少 8 位"]}
    for _ in range(4):
        assert attempt(Client(app), "street", "wrong-pass9").status_code == 200
    assert attempt(Client(app), "street", PASSWORD).status_code == 302


# -- attempts sent at once, to a live server --------------------------------------------------

@pytest.fixture
def served(own_database: str, tmp_path, monkeypatch) -> Iterator[tuple[str, Any, list[int]]]:
    """The app served from threads on a database of its own (a fresh PostgreSQL database
    with ``TEST_DATABASE_URL``), and a list that grows by one for every password hash
    checked — a real account's or the decoy's."""
    import threading

    from werkzeug.serving import make_server

    import models.accounts

    checks: list[int] = []
    real = models.accounts.check_password_hash
    monkeypatch.setattr(models.accounts, "check_password_hash",
                        lambda hashed, password: checks.append(1) or real(hashed, password))
    application = create_app({"SQLALCHEMY_DATABASE_URI": own_database, "INSTANCE_PATH": str(tmp_path),
                              "SECRET_KEY": "crowd-secret"})

    def clear() -> None:  # the shared database's locks are left as they were found: none
        with application.app_context():
            db.session.execute(db.delete(LoginThrottle))
            db.session.commit()

    clear()
    httpd = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", application, checks
    finally:
        httpd.shutdown()
        clear()
        with application.app_context():
            db.engine.dispose()


def at_once(base: str, tries: list[tuple[str, str]]) -> list[int]:
    """Each (name, password) from a browser of its own, the POSTs released together."""
    import threading

    import requests

    browsers = []
    for name, password in tries:
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=30).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        browsers.append((http, {"csrf_token": token, "username": name, "password": password}))
    start = threading.Barrier(len(browsers))
    statuses = [0] * len(browsers)

    def send(i: int) -> None:
        http, data = browsers[i]
        start.wait()
        statuses[i] = http.post(f"{base}/login", data=data, allow_redirects=False, timeout=60).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(browsers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def trail(application, actor: str) -> list[tuple[int, AuditAction]]:
    with application.app_context():
        return db.session.execute(db.select(AuditLog.id, AuditLog.action).where(
            AuditLog.actor.contains(actor), AuditLog.action.in_(
                [AuditAction.LOGIN.value, AuditAction.LOGIN_FAILED.value, AuditAction.LOGIN_LOCKED.value]))
            .order_by(AuditLog.id)).all()


@pytest.mark.own_database
def test_guesses_sent_at_once_check_no_more_passwords_than_the_limit(served):
    """16 at once checked 10 passwords (limit 5) and two answered 500. Each attempt is
    counted before its password is looked at, so no more than five are."""
    base, application, checks = served
    statuses = at_once(base, [("street", f"wrong-{i}-pass9") for i in range(16)])
    assert set(statuses) <= {200, 429} and statuses.count(429) >= 11
    assert 1 <= len(checks) <= 5
    actions = [a for _, a in trail(application, "street")]
    assert actions.count(AuditAction.LOGIN_FAILED) == len(checks)
    assert actions.count(AuditAction.LOGIN_LOCKED) == 1
    assert at_once(base, [("street", PASSWORD)]) == [429]   # locked: the right one too, unchecked
    assert len(checks) <= 5


@pytest.mark.own_database
def test_right_and_wrong_at_once_no_500_and_no_login_after_the_lock(served):
    """A right password among guesses: no 500 when its success clears the count the guesses
    are using, and no login once the lock is set."""
    base, application, _ = served
    for _ in range(3):
        statuses = at_once(base, [("leader", PASSWORD if i % 4 == 0 else f"wrong-{i}-pass9")
                                  for i in range(16)])
        assert set(statuses) <= {200, 302, 429}
    entries = trail(application, "leader")
    locks = [i for i, a in entries if a == AuditAction.LOGIN_LOCKED]
    logins = [i for i, a in entries if a == AuditAction.LOGIN]
    # which of them got in first is up to the race; that none did after the lock is not
    assert locks and all(i < locks[0] for i in logins)
    assert at_once(base, [("leader", PASSWORD)]) == [429]


@pytest.mark.own_database
def test_many_sign_in_to_one_shared_account_at_once(served):
    """A station's staff share one login: eight at once all get in — beyond the limit's
    worth of attempts being checked, the next waits for them instead of being refused."""
    base, _, checks = served
    assert at_once(base, [("station", PASSWORD)] * 8) == [302] * 8
    assert len(checks) == 8


# -- sessions ---------------------------------------------------------------------------

def session_cookie(c: Client) -> str:
    return c.http.get_cookie("session").value


def with_cookie(app, value: str) -> Client:
    other = Client(app)
    other.http.set_cookie("session", value)
    return other


def decoded(app, value: str) -> dict:
    return app.session_interface.get_signing_serializer(app).loads(value)


def test_login_starts_a_new_session_nothing_from_before_survives(app):
    c = Client(app)
    login_page = c.get("/login")
    planted = session_cookie(c)                     # what an attacker could have fixed
    old_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page.text).group(1)
    c.login("street")
    after = session_cookie(c)
    assert after != planted
    assert with_cookie(app, planted).get("/admin/").status_code == 302   # the planted cookie: anonymous
    assert with_cookie(app, after).get("/admin/").status_code == 200
    # the CSRF token of the pre-login page no longer works either
    r = c.post("/admin/community/new/", {"name": "固定会话社区", "csrf_token": old_token})
    assert r.status_code == 400
    # each login has its own session id
    again = Client(app).login("street")
    assert decoded(app, session_cookie(again))["sid"] != decoded(app, after)["sid"]


def test_a_cookie_copied_before_logout_no_longer_works(app):
    c = Client(app).login("street")
    elsewhere = Client(app).login("street")          # the same account in another browser
    copied = session_cookie(c)
    assert with_cookie(app, copied).get("/admin/").status_code == 200
    assert c.post("/logout").status_code == 302
    assert with_cookie(app, copied).get("/admin/").status_code == 302
    # logging out ends the account's sessions everywhere
    assert elsewhere.get("/admin/").status_code == 302
    assert Client(app).login("street").get("/admin/").status_code == 200


def test_idle_time_out_logs_out_with_a_message(app, clock):
    c = Client(app).login("street")
    clock.move(minutes=29)
    assert c.get("/admin/").status_code == 200      # active: the idle clock starts again
    clock.move(minutes=29)
    assert c.get("/admin/estate/").status_code == 200
    clock.move(minutes=30, seconds=1)
    r = c.get("/admin/estate/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    page = c.get(r.headers["Location"])
    assert "超过 30 分钟未操作，已自动退出，请重新登录" in flashes(page.text)
    assert c.get("/admin/").status_code == 302
    notes = [n for _, n in audit_notes(app, AuditAction.LOGOUT)]
    assert notes[-1] == "自动退出：超过 30 分钟未操作"


def test_absolute_time_out_ends_even_a_busy_session(app, clock):
    c = Client(app).login("street")
    for _ in range(36):                             # a request every 20 minutes for 12 hours
        clock.move(minutes=20)
        assert c.get("/admin/").status_code == 200
    clock.move(minutes=1)
    r = c.get("/admin/")
    assert r.status_code == 302
    assert "登录已超过 12 小时，请重新登录" in flashes(c.get("/login").text)


def test_time_outs_are_configurable(app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    c = Client(app).login("street")
    clock.move(minutes=6)
    assert c.get("/admin/").status_code == 302
    assert "超过 5 分钟未操作，已自动退出，请重新登录" in flashes(c.get("/login").text)


def test_a_copied_cookie_expires_with_its_own_stamps(app, clock):
    c = Client(app).login("street")
    copied = session_cookie(c)
    clock.move(minutes=20)
    assert c.get("/admin/").status_code == 200      # the owner keeps working …
    clock.move(minutes=20)
    assert c.get("/admin/").status_code == 200
    assert with_cookie(app, copied).get("/admin/").status_code == 302   # … the copy is 40 minutes idle


def test_a_disabled_account_is_logged_out_at_its_next_request(app, client_for):
    leader = client_for("leader")
    assert leader.get("/admin/").status_code == 200
    admin = client_for("admin")
    uid = row_id(app, User, username="leader")
    with app.app_context():
        db.session.get(User, uid).active = False
        db.session.commit()
    assert leader.get("/admin/").status_code == 302
    assert admin.get("/admin/").status_code == 200


def test_a_new_password_ends_other_sessions_but_not_this_one(app, client_for):
    here, there = client_for("street"), client_for("street")
    r = here.post("/account/password", {"current": PASSWORD, "new": "Mulberry-2048",
                                         "confirm": "Mulberry-2048"})
    assert r.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert there.get("/admin/").status_code == 302
    assert Client(app).login("street", "Mulberry-2048").get("/admin/").status_code == 200


# -- cookies ------------------------------------------------------------------------------

def login_set_cookie(app) -> str:
    c = Client(app)
    r = attempt(c, "street", PASSWORD)
    assert r.status_code == 302
    cookies = r.headers.getlist("Set-Cookie")
    assert not any(h.startswith("remember_token=") for h in cookies)   # no remember-me is offered
    return next(h for h in cookies if h.startswith("session="))


def test_the_session_cookie_is_httponly_and_samesite(app):
    header = login_set_cookie(app)
    assert "; HttpOnly" in header and "; SameSite=Lax" in header and "; Path=/" in header
    assert "Secure" not in header                   # development over plain http
    assert "Expires=" not in header                 # a browser-session cookie


def test_the_session_cookie_is_secure_when_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    header = login_set_cookie(app)
    assert "; Secure" in header and "; HttpOnly" in header and "; SameSite=Lax" in header


def test_production_defaults_to_secure_cookies(app, monkeypatch):
    from app import create_app

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    production = create_app({"APP_ENV": "production", "SECRET_KEY": "k" * 32,
                             "SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": app.instance_path})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")   # an explicit opt-out, e.g. a test bench
    bench = create_app({"APP_ENV": "production", "SECRET_KEY": "k" * 32,
                        "SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": app.instance_path})
    assert bench.config["SESSION_COOKIE_SECURE"] is False


# -- password rules on every path ------------------------------------------------------------

@pytest.mark.parametrize("password, message", [
    ("short1", "密码至少 8 位"),
    ("onlyletters", "密码须同时包含字母和数字"),
    ("wangwu2024", "密码不能包含登录名"),
    ("WANGWU123", "密码不能包含登录名"),
    ("password1", "密码过于常见，容易被猜中，请换一个"),
    ("Admin123", "密码过于常见，容易被猜中，请换一个"),
])
def test_cli_applies_the_password_rules(app, password, message):
    result = app.test_cli_runner().invoke(app.cli, [
        "users", "create", "wangwu", "--role", "leader", "--street", "示例街道", "--password", password])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.username == "wangwu")) is None


def user_form(app, **fields) -> dict:
    street = row_id(app, Street, name="示例街道")
    data = {"username": "wangwu", "display_name": "王五", "role": "leader", "active": "y",
            "streets": str(street)}
    data.update(fields)
    return data


def test_the_accounts_form_has_a_password_field(client_for):
    page = client_for("admin").get("/admin/app_user/new/").text
    assert field_errors(page, "password") == []     # present (and no error yet)
    assert 'type="password"' in page


@pytest.mark.parametrize("password, message", [
    ("wangwu2024", "密码不能包含登录名"),
    ("qwerty123", "密码过于常见，容易被猜中，请换一个"),
    ("12345678", "密码须同时包含字母和数字"),
])
def test_the_accounts_form_applies_the_password_rules(app, client_for, password, message):
    admin = client_for("admin")
    r = admin.post("/admin/app_user/new/", user_form(app, password=password))
    assert r.status_code == 200
    assert message in field_errors(r.text, "password") + flashes(r.text)
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.username == "wangwu")) is None
    ok = admin.post("/admin/app_user/new/", user_form(app, password="Larch-tree-77"))
    assert ok.status_code == 302
    assert Client(app).login("wangwu", "Larch-tree-77").get("/admin/").status_code == 200


def test_resetting_someones_password_in_the_form_obeys_the_rules_and_ends_their_session(app, client_for):
    leader = client_for("leader")
    admin = client_for("admin")
    uid = row_id(app, User, username="leader")
    street = row_id(app, Street, name="示例街道")
    form = {"username": "leader", "display_name": "领导", "role": "leader", "active": "y",
            "streets": str(street)}
    bad = admin.post(f"/admin/app_user/edit/?id={uid}", {**form, "password": "leader2024"})
    assert bad.status_code == 200
    assert "密码不能包含登录名" in field_errors(bad.text, "password") + flashes(bad.text)
    assert leader.get("/admin/").status_code == 200   # nothing changed
    good = admin.post(f"/admin/app_user/edit/?id={uid}", {**form, "password": "Juniper-4410"})
    assert good.status_code == 302
    assert leader.get("/admin/").status_code == 302   # the reset ends the old session
    assert Client(app).login("leader", "Juniper-4410").get("/admin/").status_code == 200


@pytest.mark.parametrize("password, message", [
    ("street2025", "密码不能包含登录名"),
    ("abc12345", "密码过于常见，容易被猜中，请换一个"),
    ("short1", "密码至少 8 位"),
])
def test_ones_own_password_change_applies_the_rules(app, client_for, password, message):
    c = client_for("street")
    r = c.post("/account/password", {"current": PASSWORD, "new": password, "confirm": password})
    assert r.status_code == 200 and message in r.text
    assert Client(app).login("street").get("/admin/").status_code == 200   # the old one still works


# -- production: no default account ------------------------------------------------------------

@pytest.mark.own_database
def test_production_starts_with_no_account_and_the_cli_makes_the_first(tmp_path, monkeypatch):
    import os

    import flask_migrate

    from app import create_app

    from .conftest import _fresh_postgres

    server = os.environ.get("TEST_DATABASE_URL")
    url, drop = _fresh_postgres(server) if server else (f"sqlite:///{tmp_path / 'prod.db'}", None)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    prod = create_app({"APP_ENV": "production", "SECRET_KEY": "p" * 40,
                       "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)})
    try:
        with prod.app_context():
            flask_migrate.upgrade()
            assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0
        for name, password in (("admin", "admin"), ("admin", PASSWORD), ("admin", "admin123")):
            r = attempt(Client(prod), name, password)
            assert r.status_code == 200 and "登录名或密码错误" in r.text
        runner = prod.test_cli_runner()
        demo = runner.invoke(prod.cli, ["seed", "demo"])
        assert demo.exit_code != 0 and "生产模式下不加载演示数据与演示账号" in demo.output
        first = runner.invoke(prod.cli, ["users", "create", "chief", "--role", "admin",
                                         "--name", "系统管理员", "--password", "Kx9-mPq2-wLt"])
        assert first.exit_code == 0, first.output
        with prod.app_context():
            assert db.session.scalars(db.select(User.username)).all() == ["chief"]
        c = Client(prod)
        r = attempt(c, "chief", "Kx9-mPq2-wLt")
        assert r.status_code == 302 and "; Secure" in r.headers["Set-Cookie"]
        assert c.get("/admin/app_user/").status_code == 200
    finally:
        with prod.app_context():
            db.session.remove()
            db.engine.dispose()
        if drop:
            drop()


# -- login, logout and failures in the audit log ------------------------------------------------

def test_login_and_logout_are_in_the_audit_log(app):
    start = last_audit_id(app)
    c = Client(app)
    attempt(c, "street", PASSWORD, address="192.0.2.44")
    c.refresh_token()
    c.post("/logout")
    entries = audit_notes(app, AuditAction.LOGIN, AuditAction.LOGOUT, since=start)
    assert entries == [(AuditAction.LOGIN, "登录成功（来自 192.0.2.44）"), (AuditAction.LOGOUT, "退出登录")]
    with app.app_context():
        login = db.session.scalar(db.select(AuditLog).where(
            AuditLog.id > start, AuditLog.action == AuditAction.LOGIN.value))
        assert login.user_id == row_id(app, User, username="street") and "street" in login.actor
        # the session token, replaced at login and logout, is in no one's history
        changes = db.session.scalars(db.select(AuditLog.changes).where(
            AuditLog.id > start, AuditLog.model == "app_user")).all()
        assert not any("session_token" in (ch or {}) for ch in changes)


# -- headers -----------------------------------------------------------------------------------

def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


def nonce_of(response) -> str:
    return re.search(r"'nonce-([^']+)'", csp(response)["script-src"]).group(1)


def test_pages_carry_a_content_security_policy_with_a_fresh_nonce(client_for):
    c = client_for("street")
    first, second = c.get("/admin/estate/"), c.get("/admin/estate/")
    policy = csp(first)
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["script-src"].startswith("'self' 'nonce-")
    assert nonce_of(first) != nonce_of(second)
    assert len(nonce_of(first)) >= 22               # 128 bits or more


SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER = re.compile(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", re.S)


def assert_scripts_carry_the_nonce(response) -> None:
    nonce = nonce_of(response)
    html = response.text
    scripts = SCRIPT.findall(html)
    assert scripts, "a page without scripts proves nothing"
    for attrs in scripts:
        if "src=" in attrs or 'type="application/json"' in attrs:
            continue                                # from this site, or data that never runs
        assert f'nonce="{nonce}"' in attrs, f"inline script without this request's nonce: {attrs}"
    for attrs in (a for a in scripts if "src=" in a and "/admin/static/" in a):
        assert f'nonce="{nonce}"' in attrs          # Flask-Admin prints it on its own scripts too
    assert not HANDLER.search(html), f"inline event handler: {HANDLER.search(html).group(0)[:200]}"


@pytest.mark.parametrize("username, url", [
    ("street", "/admin/"),
    ("street", "/admin/estate/"),
    ("street", "/admin/estate/new/"),
    ("street", "/admin/estate/details/?id={estate}"),
    ("street", "/admin/estate/edit/?id={estate}"),
    ("street", "/admin/estate/history/?id={estate}"),
    ("street", "/admin/estate/import/"),
    ("street", "/admin/community/edit/?id={community}"),   # inline rows
    ("committee", "/admin/inspection/new/"),               # inline items and photos
    ("street", "/admin/owners_committee/"),
    ("street", "/admin/late/"),
    ("street", "/admin/standing/"),
    ("street", "/admin/rollout/"),
    ("leader", "/admin/report/"),
    ("admin", "/admin/app_user/"),
    ("street", "/account/password"),
])
def test_every_script_on_the_page_carries_the_nonce(app, client_for, username, url):
    from models.estates import Estate

    c = client_for(username)
    url = url.format(estate=row_id(app, Estate, name="永乐花园"),
                     community=row_id(app, Community, name="江滨社区"))
    r = c.get(url)
    assert r.status_code == 200
    assert_scripts_carry_the_nonce(r)


def test_the_list_asks_before_deleting_without_inline_script(client_for):
    page = client_for("street").get("/admin/estate/").text
    assert 'data-confirm="' in page and "safeConfirm" not in page
    assert 'data-model-action="delete"' in page and "modelActions.execute" not in page
    assert '/static/js/app.js' in page


def test_the_login_and_error_pages_are_covered_too(app, client_for):
    login = Client(app).get("/login")
    assert_scripts_carry_the_nonce(login)
    missing = client_for("street").get("/admin/no-such-page/")
    assert missing.status_code == 404
    assert_scripts_carry_the_nonce(missing)
    assert "javascript:" not in missing.text and "data-back" in missing.text


def test_no_template_has_an_inline_handler_or_a_javascript_link():
    """Our templates (and the Flask-Admin ones we override) run under the CSP."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (HANDLER, re.compile(r"javascript:(?!void\(0\))")):
            if pattern.search(text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern.search(text).group(0)[:80]}")
        for attrs in SCRIPT.findall(text):
            if "src=" not in attrs and "application/json" not in attrs and "nonce" not in attrs:
                offenders.append(f"{path.relative_to(ROOT)}: <script{attrs}> without a nonce")
    assert not offenders, offenders


@pytest.mark.parametrize("url", ["/admin/estate/", "/admin/estate/export/csv/", "/admin/estate/export/xlsx/",
                                 "/admin/estate/ajax/lookup/?name=community&query=江", "/admin/report/",
                                 "/static/js/app.js", "/login"])
def test_every_response_refuses_framing_and_sniffing(client_for, url):
    r = client_for(None if url == "/login" else "street").get(url)
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("url", ["/admin/", "/admin/estate/", "/admin/estate/export/csv/",
                                 "/admin/estate/export/xlsx/", "/admin/money_trail/?format=csv",
                                 "/admin/estate/ajax/lookup/?name=community&query=江", "/login"])
def test_pages_and_exports_are_never_cached(client_for, url):
    r = client_for(None if url == "/login" else "street").get(url)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url, allowed", [("/logout", {"POST"}), ("/admin/estate/action/", {"POST"}),
                                          ("/admin/estate/delete/", {"POST"})])
def test_a_method_not_allowed_names_the_methods_that_are(client_for, url, allowed):
    """RFC 9110: a 405 carries ``Allow``; our Chinese error page keeps werkzeug's header."""
    r = client_for("street").get(url)
    assert r.status_code == 405
    assert allowed <= {m.strip() for m in r.headers.get("Allow", "").split(",")}, r.headers.get("Allow")
    assert "不支持的操作" in r.text
    ajax = client_for("street").get(url, headers={"X-Requested-With": "XMLHttpRequest"})
    assert ajax.status_code == 405 and ajax.is_json and "Allow" in ajax.headers


@pytest.mark.parametrize("url", ["/static/js/app.js", "/static/css/app.css",
                                 "/admin/static/vendor/jquery.min.js"])
def test_static_files_may_be_cached(client_for, url):
    r = client_for("street").get(url)
    assert r.status_code == 200
    assert "no-store" not in r.headers.get("Cache-Control", "")


# -- open redirects ------------------------------------------------------------------------------

HOSTILE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
           "javascript:alert(1)", "JaVaScRiPt:alert(1)", "http:evil.example", "/\t/evil.example",
           " //evil.example", "https://localhost@evil.example/"]


def test_local_targets_are_recognised():
    from views.security import is_local_target

    for good in ("/admin/estate/", "/admin/estate/?page=2&search=%E6%B0%B8", "/admin/小区/"):
        assert is_local_target(good), good
    for bad in HOSTILE + ["", "admin/estate/", "http://localhost/admin/"]:
        assert not is_local_target(bad), bad


@pytest.mark.parametrize("target", HOSTILE)
def test_login_next_cannot_leave_the_site(app, target):
    r = attempt(Client(app), "street", PASSWORD, next_=target)
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"


def test_login_next_keeps_a_local_target(app):
    r = attempt(Client(app), "street", PASSWORD, next_="/admin/estate/?page=2")
    assert r.headers["Location"] == "/admin/estate/?page=2"


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_next_cannot_leave_the_site(client_for, target):
    r = client_for("street").get("/lang/en", query_string={"next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"


def street_id(app) -> int:
    return row_id(app, Street, name="示例街道")


@pytest.mark.parametrize("target", HOSTILE)
def test_create_edit_and_delete_return_only_to_this_site(app, client_for, target):
    c = client_for("street")
    created = c.post("/admin/community/new/", {"name": "重定向测试社区", "street": str(street_id(app))},
                     query_string={"url": target})
    assert created.status_code == 302 and created.headers["Location"] == "/admin/community/"
    cid = row_id(app, Community, name="重定向测试社区")
    form, _ = read_form(c.get(f"/admin/community/edit/?id={cid}").text)
    edited = c.http.post("/admin/community/edit/", query_string={"id": cid, "url": target}, data={
        "csrf_token": c.token, "name": "重定向测试社区二", "street": str(street_id(app)),
        "row_version": form["row_version"]})
    assert edited.status_code == 302 and edited.headers["Location"] == "/admin/community/"
    deleted = c.post("/admin/community/delete/", {"id": str(cid), "url": target})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/admin/community/"
    with app.app_context():
        assert db.session.get(Community, cid).deleted_at is not None  # the delete went through (to the bin)


@pytest.mark.parametrize("target", HOSTILE)
def test_bulk_actions_return_only_to_this_site(app, client_for, target):
    c = client_for("street")
    c.post("/admin/community/new/", {"name": "批量重定向社区", "street": str(street_id(app))})
    cid = row_id(app, Community, name="批量重定向社区")
    r = c.post("/admin/community/action/", {"action": "delete", "rowid": str(cid), "url": target})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/community/"


def foreign_targets(page: str) -> list[str]:
    """Links, form actions and hidden return fields on the page that lead off the site,
    directly or through their ``url=``/``next=`` parameter."""
    from html import unescape
    from urllib.parse import parse_qs, urlsplit

    from views.security import is_local_target

    found = []
    values = re.findall(r'\s(?:href|action)="([^"]*)"', page)
    values += re.findall(r'<input[^>]*name="(?:url|next)"[^>]*value="([^"]*)"', page)
    for raw in map(unescape, values):
        if raw in ("", "#", "javascript:void(0)") or raw.startswith("?"):
            continue
        if not is_local_target(raw):
            found.append(raw)
            continue
        for name, targets in parse_qs(urlsplit(raw).query).items():
            found += [f"{raw} ({name}={t})" for t in targets
                      if name in ("url", "next") and not is_local_target(t)]
    return found


def test_the_link_check_would_catch_a_foreign_target():
    page = '<a href="/admin/community/?url=//evil.example/">x</a><a href="https://evil.example/">y</a>'
    assert len(foreign_targets(page)) == 2


@pytest.mark.parametrize("view", ["details", "history", "edit"])
@pytest.mark.parametrize("target", HOSTILE)
def test_record_pages_link_back_only_to_this_site(app, client_for, view, target):
    cid = row_id(app, Community, name="江滨社区")
    page = client_for("street").get(f"/admin/community/{view}/", query_string={"id": cid, "url": target})
    assert page.status_code == 200
    assert foreign_targets(page.text) == []
    assert 'href="/admin/community/"' in page.text       # the list tab falls back to the list


def test_a_transition_returns_only_to_this_site(app, client_for):
    from models.rollout import Phase

    c = client_for("coordinator")
    with app.app_context():
        phase = db.session.scalar(db.select(Phase.id).where(Phase.state == "not_started").limit(1))
    form = c.get("/admin/phase/transition/start/", query_string={"id": phase, "url": "//evil.example/"})
    assert form.status_code == 200 and foreign_targets(form.text) == []
    done = c.http.post("/admin/phase/transition/start/", query_string={"id": phase, "url": "//evil.example/"},
                       data={"csrf_token": c.token, "started_on": now().date().isoformat()})
    assert done.status_code == 302
    assert done.headers["Location"] == f"/admin/phase/details/?id={phase}"
