"""Login, logout, language switch and a user's own password.

Sessions live in Flask's signed cookie; what must be shared by every app server is in
the database: the account's session token (replaced at logout, so a copied cookie
stops working) and the count of failed logins (a lock holds on every server).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic, sleep
from typing import Any, Callable

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation

from models import db, now
from models.accounts import (LoginThrottle, ThrottleRules, User, check_decoy_password,
                             new_session_token, password_problem)
from models.estates import Estate
from models.governance import Community, OrgUnit, Street
from models.kernel.audit import AuditAction, record

from .security import is_local_target, is_static_request

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"

LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        key = int(user_id)
    except ValueError:
        return None
    # Bindings are read by the scoping hook on every request: load their ids and
    # names with the user, nothing more.
    user = db.session.get(User, key, options=[
        selectinload(User.streets).load_only(Street.id, Street.name),
        selectinload(User.communities).load_only(Community.id, Community.name),
        selectinload(User.estates).load_only(Estate.id, Estate.name),
        selectinload(User.unit).load_only(OrgUnit.id, OrgUnit.kind, OrgUnit.name)])
    # Flask-Login itself checks neither: a disabled account, or a cookie from before
    # the last logout or password change, logs no one in.
    if user is None or not user.active or not user.session_token:
        return None
    if not hmac.compare_digest(str(session.get("auth_token", "")), user.session_token):
        return None
    return user


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: ``next=https://evil`` or ``//evil`` falls back to ``default``."""
    return target if is_local_target(target) else default


# -- sessions ----------------------------------------------------------------------

SEEN_EVERY = timedelta(minutes=1)  # refresh the idle clock at most once a minute


def _stamp(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _read_stamp(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def login_session(user: User, at: datetime) -> dict[str, object]:
    """What a login puts in the session. Test and benchmark harnesses that log in
    without the password check (scrypt is slow by design) plant the same."""
    if not user.session_token:
        user.end_sessions()
    return {"_user_id": str(user.id), "_fresh": True,
            "sid": secrets.token_urlsafe(16),      # every login's cookie differs
            "auth_token": user.session_token,
            "login_at": _stamp(at), "seen_at": _stamp(at)}


def plant_login(app, client, username: str, keep: bool = True) -> None:
    """Log a test client in as ``username`` the way a login would, without the password
    check (scrypt is slow and memory-hard by design: it would dominate a benchmark's
    figures and a test run). ``keep=False`` leaves the database untouched, for accounts
    whose session token is already stored (the demo's)."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        fields = login_session(user, now())
        if keep:
            db.session.commit()
        db.session.remove()
    with client.session_transaction() as planted:
        planted.update(fields)


def _mark_login(user: User, at: datetime) -> None:
    """Stamp the login, and give the account a session token if it has none, in one UPDATE
    that leaves the row's version alone. A login is not an edit of the account: through
    the ORM it moved the version on, so two people signing in to one shared account at
    the same moment refused each other (the second got a 500), and so did an
    administrator's edit form left open meanwhile. COALESCE keeps a token a concurrent
    login has just set, so both sessions carry the same one."""
    token = db.session.execute(
        update(User).where(User.id == user.id)
        .values(last_login_at=at, session_token=func.coalesce(User.session_token, new_session_token()))
        .returning(User.session_token),
        execution_options={"synchronize_session": False}).scalar_one()
    set_committed_value(user, "last_login_at", at)
    set_committed_value(user, "session_token", token)


def _start_session(user: User, at: datetime) -> None:
    """A brand-new session for this login: nothing from before it survives (no
    fixation), only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user)
    session.update(login_session(user, at))


def _end_session() -> None:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


@bp.before_app_request
def enforce_session_limits() -> None:
    """Idle and absolute time-outs, from stamps in the signed cookie (a copied
    cookie keeps its old stamps, so it expires too)."""
    if "_user_id" not in session or is_static_request():
        return
    at = now()
    config = current_app.config
    login_at, seen_at = _read_stamp(session.get("login_at")), _read_stamp(session.get("seen_at"))
    idle = timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    longest = timedelta(hours=config["SESSION_MAX_HOURS"])
    if login_at is None or seen_at is None:
        reason = "登录已失效，请重新登录"
    elif at - seen_at > idle:
        reason = f"超过 {config['SESSION_IDLE_MINUTES']} 分钟未操作，已自动退出，请重新登录"
    elif at - login_at > longest:
        reason = f"登录已超过 {config['SESSION_MAX_HOURS']} 小时，请重新登录"
    else:
        if at - seen_at >= SEEN_EVERY:
            session["seen_at"] = _stamp(at)
        return
    user = load_user(str(session.get("_user_id")))
    if user is not None:
        record(AuditAction.LOGOUT, user, note=f"自动退出：{reason.split('，')[0]}",
               actor=(user.id, str(user)))
        db.session.commit()
    _end_session()
    flash(reason, "info")


def _when(moment: datetime, at: datetime) -> str:
    return f"{moment:%H:%M}" if moment.date() == at.date() else f"{moment:%m月%d日 %H:%M}"


def locked_message(until: datetime, at: datetime) -> str:
    # the same words whether or not the name exists
    return f"登录失败次数过多，已暂时锁定，请在 {_when(until, at)} 之后再试"


CROWDED_MESSAGE = "同时尝试登录的次数过多，请稍后再试"

# An attempt that finds the limit's worth of attempts still being checked waits this long
# for them to settle (a shared station account signed in to by many at once), polling
# every CROWD_POLL_SECONDS; against a burst of guesses, the lock they set ends the wait.
CROWD_WAIT_SECONDS = 10.0
CROWD_POLL_SECONDS = 0.05


@dataclass
class Verdict:
    """How a throttled password check ended."""

    user: User | None = None               # the account the password opened
    locked_until: datetime | None = None
    crowded: bool = False

    def refusal(self, at: datetime) -> str | None:
        """The message of a refusal that is not "wrong password", if it is one."""
        if self.locked_until is not None:
            return locked_message(self.locked_until, at)
        return CROWDED_MESSAGE if self.crowded else None


def _rules() -> ThrottleRules:
    config = current_app.config
    return ThrottleRules(per_name=config["LOGIN_MAX_FAILURES"],
                         per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
                         window=timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]),
                         lock=timedelta(minutes=config["LOGIN_LOCK_MINUTES"]))


def _what(kind: str, key: str) -> str:
    return f"登录名「{key}」" if kind == LoginThrottle.USERNAME else f"地址 {key}"


def throttled_check(name: str, check: Callable[[], User | None], failure: str, at: datetime,
                    actor: tuple[int | None, str] | None = None) -> Verdict:
    """Check a password under the login throttle, for the login form and for the current
    password of 修改密码 alike: one count and one lock per name. The attempt is counted
    (and committed, so every server sees it) before ``check`` runs; a wrong one is
    recorded as ``failure``, a lock once; attempts refused unchecked are only counted, and
    reported once in a summary row. ``check`` returns the account the password opens, or
    None; ``actor`` names who tried (by default the user logged in). A right verdict is
    left uncommitted, for the caller's own writes."""
    address = request.remote_addr
    rules = _rules()
    deadline = monotonic() + CROWD_WAIT_SECONDS
    while True:
        taken = LoginThrottle.take(name, address, at, rules)
        for kind, key, count in taken.summaries:
            record(AuditAction.LOGIN_FAILED, None, actor=actor,
                   note=f"{_what(kind, key)}另有 {count} 次登录尝试未核对密码即被拒绝"
                        f"（锁定期间或同时尝试过多），未逐次记录")
        if taken.crowded is None or monotonic() >= deadline:
            break
        db.session.commit()
        sleep(CROWD_POLL_SECONDS)
    if taken.crowded is not None:  # waited long enough: refused unchecked, like a lock's
        LoginThrottle.count_refusal(*taken.crowded)
    db.session.commit()
    if not taken.admitted:
        return Verdict(locked_until=taken.locked_until, crowded=taken.crowded is not None)
    user = check()
    if user is not None:
        until = LoginThrottle.succeed(name, address, at)
        if until is not None:  # locked while the password was being checked: refused all the same
            db.session.commit()
            return Verdict(locked_until=until)
        return Verdict(user=user)
    record(AuditAction.LOGIN_FAILED, None, actor=actor,
           note=f"{failure}：{name[:40]}（来自 {address or '未知地址'}）")
    locks = LoginThrottle.fail(name, address, at, rules)
    for kind, key, until in locks:
        record(AuditAction.LOGIN_LOCKED, None, actor=actor,
               note=f"{_what(kind, key)}在 {int(rules.window.total_seconds()) // 60} 分钟内登录失败过多，"
                    f"锁定至 {until:%Y-%m-%d %H:%M}")
    db.session.commit()
    return Verdict(locked_until=max((u for _, _, u in locks), default=None))


def no_nul(form: FlaskForm, field: Any) -> None:
    # NUL cannot even be sent in a query on PostgreSQL (a 500): refused before any is made,
    # in the words the generated forms use (views.engine.AdminForm)
    if isinstance(field.data, str) and "\x00" in field.data:
        raise StopValidation("不能包含空字符（\\0）")


class LoginForm(FlaskForm):
    username = StringField("登录名", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                           validators=[no_nul, DataRequired("请输入登录名"), Length(max=40)])
    password = PasswordField("密码", validators=[no_nul, DataRequired("请输入密码"), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[no_nul, DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[no_nul, DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[
        no_nul, DataRequired("请再次输入新密码"), EqualTo("new", "两次输入的新密码不一致")])


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.args.get("next"), url_for("admin.index"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if form.validate_on_submit():
        name, password = form.username.data, form.password.data
        at = now()

        def check() -> User | None:
            user = db.session.scalar(db.select(User).where(User.username == name))
            # the same hashing whether the name exists, is disabled or not: no timing tells which
            right = user.check_password(password) if user else check_decoy_password(password)
            return user if user is not None and user.active and right else None

        verdict = throttled_check(name, check, "登录失败", at, actor=(None, name[:40]))
        if verdict.user is not None:
            user = verdict.user
            _mark_login(user, at)
            _start_session(user, at)
            record(AuditAction.LOGIN, user, note=f"登录成功（来自 {request.remote_addr or '未知地址'}）")
            db.session.commit()
            return redirect(target)
        refusal = verdict.refusal(at)
        if refusal:
            flash(refusal, "error")
            return render_template("auth/login.html", form=form), 429
        flash("登录名或密码错误，或账号已停用", "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        user.sign_out_everywhere()  # the cookie, wherever it was copied, no longer logs in
        record(AuditAction.LOGOUT, user, note="退出登录")
        db.session.commit()
    _end_session()
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("admin.index")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        at = now()
        # the current password is a password guess like any other: the login's count and lock
        verdict = throttled_check(user.username,
                                  lambda: user if user.check_password(form.current.data) else None,
                                  "修改密码时当前密码不正确", at)
        problem = password_problem(form.new.data, user.username)
        refusal = verdict.refusal(at)
        if refusal:
            flash(refusal, "error")
            return render_template("auth/password.html", form=form), 429
        if verdict.user is None:
            form.current.errors.append("当前密码不正确")
        elif problem:
            db.session.commit()  # the attempt is settled: a right password
            form.new.errors.append(problem)
        else:
            user.change_own_password(form.new.data)  # ends the account's other sessions …
            session["auth_token"] = user.session_token  # … but not this one
            record(AuditAction.PASSWORD_CHANGED, user,
                   note=f"修改了自己的密码（来自 {request.remote_addr or '未知地址'}），其他会话随即失效")
            db.session.commit()
            flash("密码已修改", "success")
            return redirect(url_for("admin.index"))
    return render_template("auth/password.html", form=form)
