"""Accounts: every page behind login, hashed passwords, safe redirects, roles from declarations."""

from __future__ import annotations

import re

import pytest

from models import db
from models.accounts import User
from models.kernel.audit import AuditAction, AuditLog
from models.estates import Estate

from .helpers import Client, row_id


@pytest.mark.parametrize("url", ["/admin/", "/admin/estate/", "/admin/estate/new/",
                                 "/admin/community/details/?id=1", "/admin/estate/export/csv/",
                                 "/admin/estate/ajax/lookup/?name=community&query=a"])
def test_anonymous_visitor_is_sent_to_login(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_anonymous_post_is_refused(app):
    estate = row_id(app, Estate, name="永乐花园")
    response = app.test_client().post("/admin/estate/delete/", data={"id": str(estate)})
    assert response.status_code in (302, 400)
    with app.app_context():
        assert db.session.get(Estate, estate) is not None


def login_attempt(c: Client, username: str, password: str):
    page = c.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    return c.http.post("/login", data={"csrf_token": token, "username": username, "password": password})


def test_wrong_password_is_refused_and_logged(app):
    c = Client(app)
    response = login_attempt(c, "street", "wrong-password1")
    assert response.status_code == 200
    assert "登录名或密码错误" in response.text
    assert c.get("/admin/").status_code == 302
    with app.app_context():
        last = db.session.scalar(db.select(AuditLog).order_by(AuditLog.id.desc()))
        assert last.action == AuditAction.LOGIN_FAILED and "street" in last.note


def test_login_redirects_only_to_this_site(app):
    for target, expected in [("/admin/estate/", "/admin/estate/"),
                             ("https://evil.example/", "/admin/"),
                             ("//evil.example/", "/admin/")]:
        c = Client(app)
        page = c.get(f"/login?next={target}")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        response = c.http.post(f"/login?next={target}", data={
            "csrf_token": token, "username": "street", "password": "demo1234"})
        assert response.headers["Location"] == expected


def test_passwords_are_hashed(app):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "street"))
        assert "demo1234" not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_logout_ends_the_session(client_for):
    c = client_for("street")
    assert c.post("/logout").status_code == 302
    assert c.get("/admin/").status_code == 302


def test_disabled_account_cannot_log_in(app):
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == "leader")).active = False
        db.session.commit()
    c = Client(app)
    response = login_attempt(c, "leader", "demo1234")   # the right password
    assert response.status_code == 200 and "登录名或密码错误，或账号已停用" in response.text
    assert c.get("/admin/").status_code == 302


def test_read_only_leader_can_read_but_not_change(app, client_for):
    leader = client_for("leader")
    estate = row_id(app, Estate, name="永乐花园")
    listing = leader.get("/admin/estate/?search=永乐")
    assert listing.status_code == 200 and "永乐花园" in listing.text
    assert "/admin/estate/new/" not in listing.text  # no create button
    assert leader.get(f"/admin/estate/details/?id={estate}").status_code == 200
    assert leader.get("/admin/estate/new/").status_code == 403
    assert leader.get(f"/admin/estate/edit/?id={estate}").status_code == 403
    assert leader.post(f"/admin/estate/edit/?id={estate}", {"name": "x"}).status_code == 403
    assert leader.post("/admin/estate/delete/", {"id": str(estate)}).status_code == 403
    plain = row_id(app, Estate, name="紫荆花园")   # not a pilot: marking it would show
    assert leader.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(plain)}).status_code == 403
    assert leader.post("/admin/estate/action/", {"action": "delete", "rowid": str(estate)}).status_code == 403
    with app.app_context():
        assert db.session.get(Estate, estate) is not None
        assert not db.session.get(Estate, plain).is_pilot


def test_accounts_screen_is_for_the_system_administrator_only(client_for):
    assert client_for("street").get("/admin/app_user/").status_code == 403
    assert client_for("admin").get("/admin/app_user/").status_code == 200


def test_cli_creates_a_user_with_a_role_and_scope(app):
    runner = app.test_cli_runner()
    result = runner.invoke(app.cli, ["users", "create", "zhao", "--role", "community_staff",
                                     "--name", "赵六", "--community", "红山社区",
                                     "--password", "secret123"], obj=None)
    assert result.exit_code == 0, result.output
    assert "已创建账号 zhao（社区工作人员）" in result.output
    c = Client(app).login("zhao", "secret123")
    page = c.get("/admin/estate/").text
    assert "双龙小区" in page and "永乐花园" not in page


def test_cli_creates_a_station_account_at_its_station(app):
    runner = app.test_cli_runner()
    args = ["users", "create", "zhou", "--role", "station_staff", "--street", "示例街道",
            "--password", "secret123"]
    without = runner.invoke(app.cli, args)
    assert without.exit_code != 0 and "站点人员须选择所属站点" in without.output
    result = runner.invoke(app.cli, [*args, "--unit", "街道物业管理应急维修服务站"])
    assert result.exit_code == 0, result.output
    c = Client(app).login("zhou", "secret123")
    assert c.get("/admin/repair_ticket/").status_code == 200
    assert c.get("/admin/mediation_case/").status_code == 403


def test_cli_refuses_a_weak_password_and_an_unbound_user(app):
    runner = app.test_cli_runner()
    weak = runner.invoke(app.cli, ["users", "create", "qian", "--role", "leader",
                                   "--street", "示例街道", "--password", "short"])
    assert weak.exit_code != 0 and "密码至少 8 位" in weak.output
    unbound = runner.invoke(app.cli, ["users", "create", "sun", "--role", "leader",
                                      "--password", "secret123"])
    assert unbound.exit_code != 0 and "须绑定管辖的街道、社区或小区" in unbound.output


def test_cli_asks_which_community_when_two_streets_share_its_name(app, client_for):
    admin = client_for("admin")
    admin.post("/admin/street/new/", {"name": "第二街道"})
    with app.app_context():
        from models.governance import Street
        second = db.session.scalar(db.select(Street.id).where(Street.name == "第二街道"))
    admin.post("/admin/community/new/", {"name": "红山社区", "street": str(second)})
    runner = app.test_cli_runner()
    ambiguous = runner.invoke(app.cli, ["users", "create", "li", "--role", "community_staff",
                                        "--community", "红山社区", "--password", "secret123"])
    assert ambiguous.exit_code != 0
    assert "「红山社区」对应多条记录，请写成「街道名称/红山社区」" in ambiguous.output
    chosen = runner.invoke(app.cli, ["users", "create", "li", "--role", "community_staff",
                                     "--community", "第二街道/红山社区", "--password", "secret123"])
    assert chosen.exit_code == 0, chosen.output
    with app.app_context():
        from models.accounts import User
        user = db.session.scalar(db.select(User).where(User.username == "li"))
        assert [(c.street.name, c.name) for c in user.communities] == [("第二街道", "红山社区")]
    assert "双龙小区" not in Client(app).login("li", "secret123").get("/admin/estate/").text


def test_a_login_or_logout_is_not_an_edit_of_the_account(app, client_for):
    """Logging in stamps 最近登录 and logging out renews the session token without moving
    the account's version: many people signing in to one shared station account at once
    (tests/test_load.py does it under gunicorn) used to refuse each other with a 500, and
    an administrator's form open meanwhile was refused as stale."""
    from .probes import read_form

    account = row_id(app, User, username="station")
    with app.app_context():
        version = db.session.scalar(db.select(User.version).where(User.id == account))
    admin = client_for("admin")
    url = f"/admin/app_user/edit/?id={account}"
    fields, _ = read_form(admin.get(url).text)           # the administrator opens the account
    first, _ = client_for("station"), client_for("station")  # two people sign in meanwhile
    assert first.post("/logout").status_code == 302      # and one of them leaves
    with app.app_context():
        user = db.session.get(User, account)
        assert user.version == version and user.last_login_at is not None
    fields["phone"] = "0000-1234567"
    assert admin.post(url, fields).status_code == 302   # not refused as stale
    with app.app_context():
        assert db.session.scalar(db.select(User.phone).where(User.id == account)) == "0000-1234567"


def test_the_cached_menu_is_each_users_own(client_for):
    # the menu is rendered once per set of visible entries: an administrator's menu must
    # never be served to a leader, nor one station's to another's, on the same page
    def nav(username: str) -> str:
        page = client_for(username).get("/admin/estate/").text
        return page.split('<ul class="nav navbar-nav', 1)[1].split('id="user-menu"', 1)[0]

    for _ in range(2):  # the second round is served from the cache
        admin, leader = nav("admin"), nav("leader")
        assert 'href="/admin/app_user/"' in admin and 'href="/admin/app_user/"' not in leader
        assert ("/admin/repair_ticket/" in nav("station")) != ("/admin/repair_ticket/" in nav("mediator"))
