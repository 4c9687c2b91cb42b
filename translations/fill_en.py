"""Fill English translations into translations/en/LC_MESSAGES/messages.po.

Run after ``flask i18n update``: ``python translations/fill_en.py``. The glossary
below is the one place English wording for our Chinese labels is kept.
"""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

EN = {
    "一类": "Class I", "二类": "Class II", "三类": "Class III",
    "住宅性质": "Survey nature", "修改": "Update", "创建时间": "Created", "删除": "Delete",
    "办公地址": "Office address", "单位自管": "Self-managed by work unit", "变更内容": "Changes",
    "启用": "Active", "地址": "Address", "备注": "Notes", "失管": "Unmanaged", "姓名": "Name",
    "委员会成员": "Committee member", "密码摘要": "Password hash", "对象类型": "Record type",
    "小区": "Estates", "小区与自治": "Estates & self-governance", "小区名称": "Estate name",
    "小区类别": "Estate class", "已实行物业管理": "Professionally managed",
    "市场化物管": "Market property management", "建筑面积（㎡）": "Floor area (m²)",
    "户数": "Households", "所属区县": "District", "所属社区": "Community", "所属街道": "Street",
    "推进实施": "Rollout", "操作": "Action", "操作人": "Actor", "操作人账号": "Actor account",
    "操作日志": "Audit log", "新增": "Create", "时间": "Time", "更新时间": "Updated",
    "最近登录": "Last login", "标记为试点": "Mark as pilot", "案件办理": "Casework",
    "楼幢数": "Buildings", "治理架构": "Governance", "用户账号": "User accounts", "登录": "Login",
    "登录名": "Username", "登录失败": "Login failed", "监督考评": "Supervision",
    "确定将所选小区标记为试点小区吗？": "Mark the selected estates as pilots?",
    "示例数据": "Demo data", "社区": "Communities", "社区主任": "Community director",
    "社区名称": "Community name", "社区工作人员": "Community staff", "站点人员": "Station staff",
    "管理模式": "Management mode", "管辖小区": "Estates in charge",
    "管辖社区": "Communities in charge", "管辖街道": "Streets in charge", "类型": "Type",
    "系统管理": "System", "系统管理员": "System administrator", "经济适用房": "Affordable housing",
    "老旧小区–服务中心托管": "Old estate – service center", "联系电话": "Phone", "自管": "Self-managed",
    "街道": "Streets", "街道名称": "Street name", "街道管理员": "Street staff", "角色": "Role",
    "记录": "Record", "记录编号": "Record id", "试点协调员": "Pilot coordinator",
    "试点小区": "Pilot estate", "说明": "Note", "资金管理": "Funds", "退出": "Logout",
    "领导": "Leader", "首页": "Home",
}

if __name__ == "__main__":
    po = Path(__file__).parent / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    missing = []
    for message in catalog:
        if message.id and not message.string:
            if message.id in EN:
                message.string = EN[message.id]
            else:
                missing.append(message.id)
    with po.open("wb") as f:
        write_po(f, catalog, width=0)
    print("untranslated:", missing or "none")
