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
    # governance, self-governance, supervision
    "24小时值守": "24-hour staffed", "一级": "Grade 1", "二级": "Grade 2", "三级": "Grade 3",
    "一般事项": "Ordinary matter", "上一届": "Previous term", "下设办公室": "Group office",
    "不合格": "Fail", "专有部分总面积（㎡）": "Total exclusive area (m²)",
    "业主大会会议": "Owners' assembly meetings", "业主大会表决事项": "Assembly resolutions",
    "业主委员会": "Owners' committees", "业主委员会委员": "Committee members",
    "业主总人数": "Total owners", "临时会议": "Extraordinary meeting", "主任": "Director",
    "主持人": "Chair", "主要职责": "Main duties", "书面征求意见": "Written consultation",
    "事项类别": "Matter type", "产权单位": "Property-owning unit", "代表类别": "Representative type",
    "任期届满": "Term end", "任期开始": "Term start", "企业名称": "Company name",
    "企业年度考评意见": "Annual company reviews", "优秀": "Excellent", "会议": "Meetings",
    "会议日期": "Meeting date", "会议类别": "Meeting type", "出处": "Source",
    "出席人员": "Attendees", "副主任": "Deputy director", "办公地点": "Office location",
    "办公室主任": "Office director", "办公室副主任": "Deputy office director",
    "办公室设在": "Office hosted by", "参与表决人数": "Voting owners",
    "参与表决达到法定比例": "Quorum met (2/3)", "参与表决面积（㎡）": "Voting area (m²)",
    "反对人数": "Owners against", "反对面积（㎡）": "Area against (m²)", "召开日期": "Date held",
    "合格": "Pass", "同意人数": "Owners in favour", "同意面积（㎡）": "Area in favour (m²)",
    "名称": "Name", "四位一体小组": "Four-in-one group",
    "四位一体小组成员": "Four-in-one group members", "四位一体监督小组": "Four-in-one groups",
    "在岗": "In post", "地点": "Venue", "基本合格": "Marginal pass", "备案日期": "Filing date",
    "备案期限": "Filing deadline", "委员": "Member", "委员人数": "Elected members",
    "委托方": "Engaged by", "定期会议": "Regular meeting", "小组职务": "Group role",
    "居委会社工代表": "Residents' committee social worker",
    "居委会职责": "Residents' committee duties", "届次": "Term no.",
    "届满前90天未启动换届": "Re-election not started (term ends within 90 days)",
    "履职中": "In office", "岗位": "Post", "工作人员": "Staff",
    "已召开业主大会": "Assembly held", "已移交": "Handed over",
    "已选举待备案": "Elected, awaiting filing", "年度": "Year", "年度考评意见": "Annual reviews",
    "序号": "No.", "应急维修服务站": "Emergency repair station",
    "建设单位（前期物业）": "Developer (preliminary management)", "成员": "Member",
    "成员人数": "Members", "成立日期": "Established", "房号": "Room no.", "所在单位": "Work unit",
    "所属机构": "Unit", "换届中": "Re-electing", "换届启动日期": "Re-election started",
    "换届启动期限": "Re-election start deadline", "排序": "Sort order", "收费标准": "Fee rate",
    "无人管理": "No one in charge", "无（不再要求资质）": "None (no longer required)",
    "是否通过": "Carried", "暂停": "Suspended", "暂停原因": "Reason for suspension",
    "暂定": "Provisional", "服务合同": "Service contracts", "服务小区数": "Estates served",
    "服务热线": "Service hotline", "未配齐": "Incomplete", "本月未开会": "No meeting this month",
    "机构": "Unit", "机构工作人员": "Unit staff", "机构类别": "Unit type",
    "查摆的问题": "Problems identified", "楼幢": "Building", "正在履行": "In force",
    "流转": "Transition", "物业公司代表": "Property company representative",
    "物业服务企业": "Property company", "物业服务合同": "Service contracts",
    "物业管理委员会": "Property management committee",
    "物业管理服务中心": "Property service center", "状态": "Status",
    "登记街道": "Registered street", "监督小组": "Supervision group",
    "矛盾投诉调解站": "Mediation station", "研究部署（决定事项）": "Decisions and assignments",
    "社区业主代表": "Owner representative", "社区居委会": "Residents' committee",
    "社区机构": "Community units",
    "社区物业管理委员会": "Community property management committee",
    "社区物业管理监督小组": "Community supervision group",
    "社委会代表": "Community committee representative", "移交情况": "Handover notes",
    "移交日期": "Handover date", "筹备中": "Preparing", "筹备组成员": "Preparatory group member",
    "筹备组成立日期": "Preparatory group formed",
    "筹备组社区代表": "Community representative (preparatory group)",
    "系统账号": "User account", "组建中": "Forming", "组织机构": "Organisational units",
    "组长": "Group leader", "组长/主任": "Leader / director", "终止日期": "End date",
    "统一社会信用代码": "Unified social credit code", "考评人": "Reviewer",
    "考评意见": "Review comments", "考评日期": "Review date", "考评结论": "Rating",
    "职务": "Position", "职责": "Duties", "职责内容": "Duty text", "职责条目": "Duties",
    "联系人": "Contact", "行政职务": "Official position", "街道审核意见": "Street review opinion",
    "街道物业管理办公室": "Street property management office", "街道科室": "Street department",
    "街道（托管）": "Street (custodial)", "表决事项": "Resolution", "表决形式": "Voting method",
    "议题": "Agenda", "负责人": "Head", "资质等级": "Qualification grade",
    "资质证书编号": "Qualification certificate no.", "起始日期": "Start date",
    "运行中": "Active", "选举所在业主大会": "Electing assembly", "选举日期": "Election date",
    "逾期未备案": "Filing overdue", "重大事项": "Major matter", "集体讨论": "Collective discussion",
    "领导小组": "Leadership groups", "领导小组会议": "Leadership meetings",
    "领导小组成员": "Leadership group members", "首次业主大会": "First assembly",
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
