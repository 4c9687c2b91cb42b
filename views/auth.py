"""Login, logout, language switch and a user's own password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from models import db, now
from models.accounts import User, password_problem
from models.estates import Estate
from models.governance import Community, OrgUnit, Street
from models.audit import AuditAction, record

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
    return db.session.get(User, key, options=[
        selectinload(User.streets).load_only(Street.id, Street.name),
        selectinload(User.communities).load_only(Community.id, Community.name),
        selectinload(User.estates).load_only(Estate.id, Estate.name),
        selectinload(User.unit).load_only(OrgUnit.id, OrgUnit.kind, OrgUnit.name)])


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: ``next=https://evil`` or ``//evil`` falls back to ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


class LoginForm(FlaskForm):
    username = StringField("登录名", validators=[DataRequired("请输入登录名"), Length(max=40)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[
        DataRequired("请再次输入新密码"), EqualTo("new", "两次输入的新密码不一致")])


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.args.get("next"), url_for("admin.index"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()  # a fresh session at login: no fixation
            login_user(user)
            user.last_login_at = now()
            record(AuditAction.LOGIN, user, note="登录成功")
            db.session.commit()
            return redirect(target)
        record(AuditAction.LOGIN_FAILED, None, actor=(None, form.username.data[:40]),
               note=f"登录失败：{form.username.data[:40]}")
        db.session.commit()
        flash("登录名或密码错误，或账号已停用", "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        record(AuditAction.LOGOUT, current_user._get_current_object(), note="退出登录")
        db.session.commit()
    logout_user()
    session.clear()
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
        problem = password_problem(form.new.data)
        if not user.check_password(form.current.data):
            form.current.errors.append("当前密码不正确")
        elif problem:
            form.new.errors.append(problem)
        else:
            user.set_password(form.new.data)
            db.session.commit()
            flash("密码已修改", "success")
            return redirect(url_for("admin.index"))
    return render_template("auth/password.html", form=form)
