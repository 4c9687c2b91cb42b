"""Command-line set-up: schema, reference and demo data, accounts."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from models import db, now
from models.accounts import LoginThrottle, User
from models.kernel.audit import AuditAction, acting_as, record
from models.kernel.declare import Invalid
from models.accounts import Role
from models.estates import Estate
from models.governance import Community, OrgUnit, Street


def register_cli(app: Flask) -> None:
    from .backup import backup
    from .scale import seed_scale

    app.cli.add_command(audit)
    app.cli.add_command(check)
    app.cli.add_command(backup)
    app.cli.add_command(seed)
    app.cli.add_command(users)
    app.cli.add_command(seed_scale)
    app.cli.add_command(tallies)


@click.command(help="检查每个模型的声明：列出全部问题（编号、模型、选项、提示），有问题时退出码为 1")
@with_appcontext
def check() -> None:

    from models import declared_models

    problems = current_app.extensions.get("declaration_problems", [])
    for problem in problems:
        click.echo(f"{problem.id} {problem}")
    if problems:
        click.echo(f"共 {len(problems)} 个问题")
        raise SystemExit(1)
    click.echo(f"OK：{len(declared_models())} 个模型的声明没有问题")


@click.group(cls=AppGroup, help="加载参考数据与演示数据")
def seed() -> None:
    pass


@seed.command("demo", help="加载演示数据（社区、56 个小区、各角色演示账号）；重复执行不会重复创建")
def seed_demo() -> None:
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("生产模式下不加载演示数据与演示账号")
    from .demo import load_demo

    with acting_as("命令行：seed demo"):
        result = load_demo()
    click.echo(f"演示数据就绪：小区 {result['estates']} 个（本次新增 {result['estates_created']} 个）")


@seed.command("reference", help="为指定街道加载原文中的社区、试点小区、组织结构与职责（参考数据）；重复执行不会重复创建")
@click.option("--street", "street_name", required=True, help="街道名称；不存在时新建")
@click.option("--year", type=int, default=None, help="实施方案的年度（原文为“20__年”），默认今年")
@click.option("--pilots/--no-pilots", default=True,
              help="是否加载原文点名的 5 个社区及试点小区（篇6 三.3），默认加载；为同一区的其他街道加载时用 --no-pilots")
def seed_reference(street_name: str, year: int | None, pilots: bool) -> None:
    from .casework_demo import load_repair_rules
    from .loader import ensure
    from .reference import load_indicators, load_reference
    from .rollout import load_plans

    with acting_as("命令行：seed reference"):
        street, _ = ensure(Street, {"name": street_name})
        created = load_reference(street, pilots) + load_repair_rules() + load_indicators() \
            + load_plans(street, year or now().year)
        db.session.commit()
    click.echo(f"{street_name}：参考数据就绪（本次新增 {created} 条）")


@click.group(cls=AppGroup, help="汇总表（服务指标与最新检查值的汇总，随记录自动更新）")
def tallies() -> None:
    pass


@tallies.command("rebuild", help="按现有记录重算全部汇总（批量导入数据库后使用）")
def tallies_rebuild() -> None:
    from models.tallies import rebuild

    rebuild(db.session.connection())
    db.session.commit()
    click.echo("汇总表已按记录重算")


@tallies.command("check", help="核对汇总表与记录是否一致（只读；不一致时列出并以非零状态退出）")
def tallies_check() -> None:
    from models.tallies import case_drift

    drift = case_drift(db.session.connection())
    for (estate_id, month), kept, counted in drift[:20]:
        click.echo(f"小区 {estate_id} {month:%Y-%m}：汇总 {kept}，按记录 {counted}")
    if drift:
        raise click.ClickException(f"{len(drift)} 个月度汇总与记录不一致（flask tallies rebuild 可重算）")
    click.echo("汇总表与记录一致")


@click.group(cls=AppGroup, help="操作日志（只能追加，每条带有前后相连的哈希）")
def audit() -> None:
    pass


@audit.command("verify", help="按编号顺序核对操作日志的哈希链：有记录被修改或删除时指出第一处，并以非零状态退出")
def audit_verify() -> None:
    from models.kernel.audit import verify_chain

    held, problem, last_id, last_hash = verify_chain(db.session.connection())
    db.session.rollback()
    if problem:
        raise click.ClickException(f"操作日志核对未通过：{problem}（此前 {held} 条完好）")
    click.echo(f"OK {held} rows")
    if last_id is not None:
        # removing the newest entries breaks no link: a hash noted now shows it later
        click.echo(f"最后一条：编号 {last_id}，哈希 {last_hash}（可另行记下，下次核对时比对）")


@click.group(cls=AppGroup, help="管理用户账号")
def users() -> None:
    pass


# Names are unique only within their parent: a community within its street, an estate
# within its community. "示例街道/江滨社区" picks one when the bare name is ambiguous.
PARENT = {"Community": ("street", "街道"), "Estate": ("community", "社区"), "OrgUnit": ("street", "街道")}


def _find(model: type, names: tuple[str, ...]) -> list:
    rows = []
    for written in names:
        parent_name, _, name = written.rpartition("/")
        stmt = db.select(model).where(model.name == name)
        relation, parent_label = PARENT.get(model.__name__, (None, None))
        if parent_name and relation:
            parent = getattr(model, relation)
            stmt = stmt.join(parent).where(parent.property.mapper.class_.name == parent_name)
        found = db.session.scalars(stmt.limit(2)).all()
        if not found:
            raise click.ClickException(f"找不到「{written}」")
        if len(found) > 1:
            hint = f"，请写成「{parent_label}名称/{name}」" if relation else ""
            raise click.ClickException(f"「{written}」对应多条记录{hint}")
        rows.append(found[0])
    return rows


@users.command("create", help="创建账号，例如：flask users create wang --role street_staff --street 示例街道")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="角色：" + "，".join(f"{r.value}={r.label}" for r in Role))
@click.option("--name", "display_name", help="姓名（默认同登录名）")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--street", multiple=True, help="管辖街道名称，可多次指定")
@click.option("--community", multiple=True, help="管辖社区名称，可多次指定；重名时写成 街道/社区")
@click.option("--estate", multiple=True, help="管辖小区名称，可多次指定；重名时写成 社区/小区")
@click.option("--unit", help="所属站点（站点人员必填），如：街道物业管理应急维修服务站；重名时写成 街道/站点")
def users_create(username: str, role: str, display_name: str | None, password: str,
                 street: tuple[str, ...], community: tuple[str, ...], estate: tuple[str, ...],
                 unit: str | None) -> None:
    if db.session.scalar(db.select(User).where(User.username == username)):
        raise click.ClickException(f"登录名「{username}」已存在")
    user = User(username=username, display_name=display_name or username, role=Role(role))
    try:
        user.set_password(password)
        user.streets = _find(Street, street)
        user.communities = _find(Community, community)
        user.estates = _find(Estate, estate)
        user.unit = _find(OrgUnit, (unit,))[0] if unit else None  # a station account's station
        user.clean()
    except Invalid as exc:
        raise click.ClickException("；".join(m for ms in exc.errors.values() for m in ms))
    with acting_as("命令行：users create"):
        db.session.add(user)
        db.session.commit()
    click.echo(f"已创建账号 {username}（{Role(role).label}）")


@users.command("unlock", help="提前解除登录锁定（连续登录失败过多时锁定 15 分钟），例如：flask users unlock wang")
@click.argument("username", required=False)
@click.option("--address", help="同时解除该客户端地址（IP）的锁定")
def users_unlock(username: str | None, address: str | None) -> None:
    if not username and not address:
        raise click.ClickException("请指定登录名或 --address")
    cleared = LoginThrottle.unlock(username, address)
    # the attempts a lock refused unchecked are counted, not each recorded: say how many
    told = "、".join(f"{key}（另有 {refused} 次尝试未核对密码即被拒绝）" if refused else key
                    for key, refused in cleared)
    if cleared:
        with acting_as("命令行：users unlock"):
            record(AuditAction.ACTION, None, note=f"解除登录锁定：{told}")
    db.session.commit()
    click.echo(f"已解除锁定（{len(cleared)} 项）：{told}" if cleared else "没有需要解除的锁定")
