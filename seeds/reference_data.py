"""Reference data transcribed from the seed text (seed/000_6f4ba4c19f0dd30e.txt, 篇1–篇6).

Pure data, no logic. Every Chinese ``text`` / ``name`` taken from the text is verbatim,
typos and punctuation included: the seed text itself uses half-width ``,`` ``:`` ``;``
``(`` ``)`` next to full-width ``、`` ``。`` ``“”``, and that is kept as is. Every item
carries a ``source`` naming its section, e.g. "篇5 二(一)1(3)". Notes (``note``,
``date_note``) are ours, not the text's. Dates have no year: the text writes "20__".
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# 1. 街道物业管理办公室 (篇5 二(一)1)
# ---------------------------------------------------------------------------

PROPERTY_OFFICE = {
    "name": "街道物业管理办公室",
    "source": "篇5 二(一)1",
    "duties": [
        {
            "seq": 1,
            "text": "会同主管部门参与辖区物业管理招投标、新建居住小区的物业承接验收、物业服务企业资质审核、物业管理区域划分;负责物业维修资金续筹与使用审核,物业服务质量检查考评,物业管理项目交接监管等。",
            "source": "篇5 二(一)1(1)",
        },
        {
            "seq": 2,
            "text": "指导、监督业主委员会的成立、改选和换届工作,并对业主委员会的备案提出审核意见;负责指导、监督业主大会、业主委员会日常运作。",
            "source": "篇5 二(一)1(2)",
        },
        {
            "seq": 3,
            "text": "对本辖区内没有物业管理或物业公司弃管的住宅小区,在业主大会没有确定管理方式之前,负责组织街道物业服务中心有偿提供物业基本服务。",
            "source": "篇5 二(一)1(3)",
        },
        {
            "seq": 4,
            "text": "协调处理辖区内有关物业管理投诉和信访方面的工作。",
            "source": "篇5 二(一)1(4)",
        },
        {
            "seq": 5,
            "text": "对未按规划建设配套共用设施、社区和物业管理用房,或配套用房、设施存在质量问题的,提请有关部门责令开发建设单位整改。",
            "source": "篇5 二(一)1(5)",
        },
        {
            "seq": 6,
            "text": "组织建立辖区物业管理的领导机构。",
            "source": "篇5 二(一)1(6)",
        },
    ],
}

# ---------------------------------------------------------------------------
# 2. 街道各科室职责 (篇5 二(一)2), in text order.
# One duty per numbered paragraph, worded as the text words it after the
# department's name (社会事务科's paragraph has two sentences; kept as one item).
# ---------------------------------------------------------------------------

DEPARTMENTS = [
    {
        "name": "城建科",
        "full_name": "街道城建科",
        "source": "篇5 二(一)2(1)",
        "duties": [
            {
                "seq": 1,
                "text": "负责研究制定辖区内住宅区物业管理的发展战略,指挥协调领导小组各成员单位搞好住宅区物业管理工作。",
                "source": "篇5 二(一)2(1)",
            },
        ],
    },
    {
        "name": "财政所",
        "full_name": "街道财政所",
        "source": "篇5 二(一)2(2)",
        "duties": [
            {
                "seq": 1,
                "text": "负责落实配套资金,按照规定及时拨付补贴款,监督资金使用,参与对社区的年度考核与奖惩评比。",
                "source": "篇5 二(一)2(2)",
            },
        ],
    },
    {
        "name": "市容卫生管理办公室",
        "full_name": "街道市容卫生管理办公室",
        "source": "篇5 二(一)2(3)",
        "duties": [
            {
                "seq": 1,
                "text": "负责牵头和督促社区及时拆除住宅区内违建,指导和督促保洁员做好职责范围内各住宅区的卫生保洁工作。",
                "source": "篇5 二(一)2(3)",
            },
        ],
    },
    {
        "name": "司法所",
        "full_name": "街道司法所",
        "source": "篇5 二(一)2(4)",
        "duties": [
            {
                "seq": 1,
                "text": "负责协助街道成立物业管理矛盾调解站,加强对调解员的政策业务培训与工作指导,充分发挥调解机制作用,协调解决各类物管矛盾纠纷。",
                "source": "篇5 二(一)2(4)",
            },
        ],
    },
    {
        "name": "社会事务科",
        "full_name": "街道社会事务科",
        "source": "篇5 二(一)2(5)",
        "duties": [
            {
                "seq": 1,
                "text": "负责社区建设的组织协调和综合管理工作。将社区符合低保条件的居民纳入保障范围,督促和协助社区和物管企业按照先征后返的原则,对低保户实行先征后返。",
                "source": "篇5 二(一)2(5)",
            },
        ],
    },
    {
        "name": "综合科",
        "full_name": "街道综合科",
        "source": "篇5 二(一)2(6)",
        "duties": [
            {
                "seq": 1,
                "text": "负责积极协调住宅区内幼儿园和学校缴纳相应的物业管理费,以减轻物业公司经营负责。",
                "source": "篇5 二(一)2(6)",
            },
        ],
    },
    {
        "name": "纪工委",
        "full_name": "街道纪工委",
        "source": "篇5 二(一)2(7)",
        "duties": [
            {
                "seq": 1,
                "text": "负责对社区管理工作的年度考核,对物管资金使用进行监督和审计。",
                "source": "篇5 二(一)2(7)",
            },
        ],
    },
]

# ---------------------------------------------------------------------------
# 3. 社区居委会职责 (篇5 二(一)3)
# ---------------------------------------------------------------------------

COMMUNITY_DUTIES = [
    {
        "seq": 1,
        "text": "指导成立业主大会筹备组,派代表参加筹备工作;会同开发建设单位组织新开发的小区召开第一次业主大会,并监督指导业主委员会依法选举;指导监督业主委员会换届和新老业主委员会的交接工作等。",
        "source": "篇5 二(一)3(1)",
    },
    {
        "seq": 2,
        "text": "监督、指导业主委员会的工作。负责传达街道对社区公共利益作出的决定,对业主委员会的决议提出建议和意见。",
        "source": "篇5 二(一)3(2)",
    },
    {
        "seq": 3,
        "text": "配合街道办事处建立辖区物业管理责任体系,并融入到社区综合管理当中。",
        "source": "篇5 二(一)3(3)",
    },
    {
        "seq": 4,
        "text": "成立物业管理监督小组,负责对物业管理服务质量进行日常监督,并及时把信息反馈给街道物业管理办公室。",
        "source": "篇5 二(一)3(4)",
    },
    {
        "seq": 5,
        "text": "负责协调物业管理企业与业主委员会之间的关系。",
        "source": "篇5 二(一)3(5)",
    },
]

# ---------------------------------------------------------------------------
# 4. “两站一中心一小组” (篇5 四), in the order 篇5 四 lists them.
# ``duty_heading`` is the heading the duties stand under in 篇5 二(一).
# ---------------------------------------------------------------------------

UNITS = [
    {
        "kind": "mediation_station",
        "name": "街道物业管理矛盾投诉调解站",
        "per_community": False,
        "source": "篇5 四.1",
        "duty_heading": "物业管理矛盾投诉调解站职责",
        "duty_heading_source": "篇5 二(一)6",
        "duties": [
            {
                "seq": 1,
                "text": "受理调解业主、使用人与物业服务企业之间物业管理方面矛盾纠纷的投诉。",
                "source": "篇5 二(一)6(1)",
            },
            {
                "seq": 2,
                "text": "受理调解业主与业主、使用人、业主委员会之间物业管理方面矛盾纠纷的投诉。",
                "source": "篇5 二(一)6(2)",
            },
            {
                "seq": 3,
                "text": "受理调解业主、使用人与开发建设单位、物业服务企业之间物业管理方面矛盾纠纷的投诉。",
                "source": "篇5 二(一)6(3)",
            },
            {
                "seq": 4,
                "text": "受理调解其它物业管理方面矛盾纠纷的投诉。",
                "source": "篇5 二(一)6(4)",
            },
            {
                "seq": 5,
                "text": "有关政策规定社会矛盾纠纷大调解不予受理的矛盾纠纷,物业管理投诉调解工作站不予受理。",
                "source": "篇5 二(一)6(5)",
            },
            {
                "seq": 6,
                "text": "凡物业管理方面的投诉不经街道物业管理投诉调解工作站受理调解的不得越级上访,如越级上访原则上不予受理。",
                "source": "篇5 二(一)6(6)",
            },
        ],
    },
    {
        "kind": "repair_station",
        "name": "街道物业管理应急维修服务站",
        "per_community": False,
        "source": "篇5 四.2",
        # The duty heading names it 应急维修站, without 服务.
        "duty_heading": "物业管理应急维修站职责",
        "duty_heading_source": "篇5 二(一)5",
        "duties": [
            {
                "seq": 1,
                "text": "按照快速反应、及时组织、优质服务、有偿微利的原则,开展辖区内无管理单位住宅区的共用部位、共用设施设备和业主自用部位的应急维修工作。",
                "source": "篇5 二(一)5(1)",
            },
            {
                "seq": 2,
                "text": "负责实行全天候24小时专人接听应急报修电话并做好记录。",
                "source": "篇5 二(一)5(2)",
            },
            {
                "seq": 3,
                "text": "负责安排维修单位,服务时限,30分钟内到场及时排险,并做到修水不过天,修电不过夜,及时提供下水道疏通、化粪池清理服务。",
                "source": "篇5 二(一)5(3)",
            },
            {
                "seq": 4,
                "text": "负责督查受理结果,反馈维修信息,建立维修服务台帐。",
                "source": "篇5 二(一)5(4)",
            },
            {
                "seq": 5,
                "text": "对于不在服务范围内的维修项目,向报修人提供相关维修咨询,对涉及供水、供电、燃气等部门的报修,应提供相关电话。",
                "source": "篇5 二(一)5(5)",
            },
            {
                "seq": 6,
                "text": "对属于房屋共用部位、共用设施设备的维修项目,向报修人提供专项维修资金政策咨询,并协助其办理维修资金申请手续。",
                "source": "篇5 二(一)5(6)",
            },
        ],
    },
    {
        "kind": "service_center",
        "name": "街道物业管理服务中心",
        "per_community": False,
        "source": "篇5 四.3",
        "duty_heading": "物业管理服务中心职责",
        "duty_heading_source": "篇5 二(一)4",
        "duties": [
            {
                "seq": 1,
                "text": "负责老旧小区内住宅及公共设施、公共秩序、居住环境、卫生、绿化、停车场、装修的管理和服务工作。",
                "source": "篇5 二(一)4(1)",
            },
            {
                "seq": 2,
                "text": "接受业主委员会或业主管委会的监督,广泛听取业主、使用人意见,提出整改措施并落实;定期参加业主大会,为业主、使用人提供优质服务。",
                "source": "篇5 二(一)4(2)",
            },
            {
                "seq": 3,
                "text": "受理业主来访、查询、委托、投诉等事宜,能解决的及时解决。",
                "source": "篇5 二(一)4(3)",
            },
            {
                "seq": 4,
                "text": "建立健全住户档案,完善老旧小区管理台帐。",
                "source": "篇5 二(一)4(4)",
            },
            {
                "seq": 5,
                "text": "检查、督促清洁人员做好楼道和小区环境卫生工作,加强老旧小区环境保护宣传工作。",
                "source": "篇5 二(一)4(5)",
            },
            {
                "seq": 6,
                "text": "定期检查保养公用设施设备,对下水道、化粪池适时组织疏通清理,发现问题及时解决。",
                "source": "篇5 二(一)4(6)",
            },
            {
                "seq": 7,
                "text": "每天不少于两次在小区内巡逻,遇突发事件采取必要措施并及时向有关部门报告。",
                "source": "篇5 二(一)4(7)",
            },
            {
                "seq": 8,
                "text": "对小区进出车辆进行管理、疏导,保持出入口畅通。",
                "source": "篇5 二(一)4(8)",
            },
            {
                "seq": 9,
                "text": "按时保质完成上级部门交办的物业管理其他工作。",
                "source": "篇5 二(一)4(9)",
            },
        ],
    },
    {
        "kind": "supervision_group",
        "name": "社区物业管理监督小组",
        "per_community": True,
        "source": "篇5 四.4",
        # The sentence that sets the group up in every community (篇5 四.4).
        "setup": {
            "text": "各社区居委会成立物业管理监督小组,实行二级监管。",
            "source": "篇5 四.4",
        },
        # 二级监管: the per-estate “四位一体” group, its four kinds of representative
        # and its leader, as 篇5 四.4 words them.
        "four_in_one_members": ["居委会社工代表", "社区业主代表", "社委会代表", "物业公司代表"],
        "group_leader": "社委会主任",
        "duties": [
            {
                "seq": 1,
                "text": "成立物业管理监督小组,负责对物业管理服务质量进行日常监督,并及时把信息反馈给街道物业管理办公室。",
                "source": "篇5 二(一)3(4)",
            },
            {
                # The text ends this clause with ";" (dropped here).
                "seq": 2,
                "text": "一级监管,由街道物业管理办公室与各社区主任组织实施,履行区物业科下放职权与职责",
                "source": "篇5 四.4",
            },
            {
                "seq": 3,
                "text": "二级监管由小区“四位一体”组织实施,由居委会社工代表、社区业主代表,社委会代表、物业公司代表组成,社委会主任任组长,负责对物业管理服务质量进行日常监督,并及时把信息反馈给街道物业管理办公室。",
                "source": "篇5 四.4",
            },
        ],
    },
]

# ---------------------------------------------------------------------------
# 5. 街道物业管理领导小组 (篇6 一)
# ``role_title`` is our label; ``text`` is the clause of 篇6 一 that appoints the member.
# ---------------------------------------------------------------------------

LEADERSHIP_GROUP = {
    "name": "街道物业管理领导小组",
    "source": "篇6 一",
    "text": "街道成立物业管理领导小组。",
    # 篇6 一 puts “主要职责:” right after the office sentences; read here as the
    # group's duties (the office works for the group).
    "duties": [
        {
            "seq": 1,
            "text": "负责指导各社区居委会划分物业管理小区,抓好试点,协调帮忙社区居委会解决有关问题。",
            "source": "篇6 一",
        },
    ],
    "office": {
        "name": "领导小组办公室",
        "host": "社区办",
        "text": "下设办公室,由街道社区办主任蔡莹同志兼任主任,城管办主任林燕芳同志担任党务副主任。办公室设在社区办。",
        "source": "篇6 一",
    },
    "members": [
        {
            "name": "沈萌",
            "role": "leader",
            "role_title": "主任",
            "position": "街道党工委副书记、办事处主任",
            "concurrent": False,
            "text": "主任由街道党工委副书记、办事处主任沈萌同志担任",
            "source": "篇6 一",
        },
        {
            "name": "郑文珍",
            "role": "deputy",
            "role_title": "副主任",
            "position": "街道党工委副书记",
            "concurrent": False,
            "text": "副主任由街道党工委副书记郑文珍、街道办事处副主任陈旭同志担任",
            "source": "篇6 一",
        },
        {
            "name": "陈旭",
            "role": "deputy",
            "role_title": "副主任",
            "position": "街道办事处副主任",
            "concurrent": False,
            "text": "副主任由街道党工委副书记郑文珍、街道办事处副主任陈旭同志担任",
            "source": "篇6 一",
        },
        {
            # The text says he/she holds the office directorship concurrently (兼任).
            "name": "蔡莹",
            "role": "office_director",
            "role_title": "办公室主任",
            "position": "街道社区办主任",
            "concurrent": True,
            "text": "由街道社区办主任蔡莹同志兼任主任",
            "source": "篇6 一",
        },
        {
            "name": "林燕芳",
            "role": "office_deputy",
            "role_title": "办公室党务副主任",
            "position": "城管办主任",
            "concurrent": False,
            "text": "城管办主任林燕芳同志担任党务副主任",
            "source": "篇6 一",
        },
    ],
    # “负责人” may qualify all four units, not only 各社区居委会; the list keeps the
    # text's own wording.
    "member_units": ["街道党政办", "社区办", "物业管理公司", "各社区居委会负责人"],
    "member_units_text": "成员由街道党政办、社区办、物业管理公司和各社区居委会负责人组成",
    "meeting_rule": {
        "text": "物业管理业管理领导小组每月召开一次会议,学习上级有关文件和会议精神,分析进度,查摆问题,研究部署阶段性工作等。",
        "frequency": "monthly",
        "source": "篇6 四.1",
    },
}

# ---------------------------------------------------------------------------
# 6. 社区物业管理委员会 (篇6 一): one per community, named <社区名>物业管理委员会.
# ---------------------------------------------------------------------------

PM_COMMITTEE = {
    "name_suffix": "物业管理委员会",
    "source": "篇6 一",
    "text": "各社区居委会要成立物业管理委员会,作为社区基层的物业管理协调机构。",
    "duties": [
        {
            "seq": 1,
            "text": "作为社区基层的物业管理协调机构。",
            "source": "篇6 一",
        },
    ],
}

# ---------------------------------------------------------------------------
# 7. 小区规划 (篇6 二.1), 试点 (篇6 三.3), 工作目标 (篇6 二.2)
# ---------------------------------------------------------------------------

ESTATE_PLAN = {
    "total": 56,
    "first": 15,
    "second": 21,
    "third": 20,
    "source": "篇6 二.1",
    "text": "根据需要与合理原则,全街城建区规划为56个物业管理小区,其中基础条件较好的居民区(一类小区)15个;单位型居住区(二类小区)21个,目前,各方面尚不具备条件的小区(三类小区)20个。",
    "classes": [
        {"class": 1, "label": "一类小区", "description": "基础条件较好的居民区", "count": 15},
        {"class": 2, "label": "二类小区", "description": "单位型居住区", "count": 21},
        {"class": 3, "label": "三类小区", "description": "各方面尚不具备条件的小区", "count": 20},
    ],
}

PILOTS = [
    {"community": "江滨社区", "estate": "永乐花园", "source": "篇6 三.3"},
    {"community": "后溪洋社区", "estate": "后溪公寓小区", "source": "篇6 三.3"},
    {"community": "鸿燕社区", "estate": "黄山新村一路", "source": "篇6 三.3"},
    {"community": "红山社区", "estate": "双龙小区", "source": "篇6 三.3"},
    {"community": "黄山社区", "estate": "贮木场新村", "source": "篇6 三.3"},
]

# The goals 篇6 二.2 sets “20__年前”, in text order. ``target`` is a count of
# estates (or pilots) where the text gives one.
TARGETS = [
    {
        "code": "publicity",
        "text": "加大物业管理工作的宣传力度,让社区居民充分认识到物业管理工作的重要意义,取得理解和支持",
        "target": None,
        "source": "篇6 二.2",
    },
    {
        "code": "owners_assemblies",
        "text": "在36个一、二类物业管理小区逐个召开业主大会",
        "target": 36,
        "source": "篇6 二.2",
    },
    {
        "code": "owners_committees",
        "text": "成立业主委员会,切实发挥业主、业主委员会在物业管理活动中自治的作用",
        "target": 36,
        "note": "与召开业主大会为同一句，指同样的36个一、二类小区",
        "source": "篇6 二.2",
    },
    {
        "code": "classified_guidance",
        "text": "根据住宅小区的特点搞好分类指导",
        "target": None,
        "source": "篇6 二.2",
    },
    {
        "code": "pilots_this_year",
        "text": "年内抓好五个试点,并认真推广",
        "target": 5,
        "source": "篇6 二.2",
    },
    {
        "code": "regularise_further",
        "text": "进一步规范小区的物业管理",
        "target": None,
        "source": "篇6 二.2",
    },
    {
        "code": "regularise_36_by_year_end",
        "text": "力争到达36个一、二类物业管理小区在20__年底前,逐步实行规范化的物化管理",
        "target": 36,
        "deadline_text": "20__年底前",
        "deadline": (12, 31),
        "source": "篇6 二.2",
    },
    {
        "code": "third_class_with_renovation",
        "text": "20个三类物业管理小区,按照“旧城改造一个规范一个”的原则进行",
        "target": None,
        "estates": 20,
        "note": "原文未给数量目标：20个三类小区随旧城改造逐个规范",
        "source": "篇6 二.2",
    },
]

# ---------------------------------------------------------------------------
# 8. 实施步骤 (篇5 五; 篇6 三). Dates are (month, day); no years (text: "20__").
# 篇6 phases: tasks are the phase's sentences, split at "。".
# ---------------------------------------------------------------------------

ROLLOUT_PLANS = [
    {
        "code": "p5",
        "name": "篇5 物业管理体制创新实施步骤",
        "source": "篇5 五",
        "phases": [
            {
                "seq": 1,
                "name": "制定方案阶段",
                "date_text": "6月12日前",
                "start": None,
                "end": (6, 12),
                "date_problem": False,
                "date_note": None,
                "source": "篇5 五.1",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "调查辖区内住宅性质。分已实行物业管理小区、自管小区、失管小区,摸清范围、楼幢数、居民户数等情况。",
                        "source": "篇5 五.1(1)",
                    },
                    {
                        "seq": 2,
                        "text": "外出调研,深入试点单位调研住宅小区属地化管理经验。",
                        "source": "篇5 五.1(2)",
                    },
                    {
                        "seq": 3,
                        "text": "落实办公的场地,各种制度及网络流程图上墙。",
                        "source": "篇5 五.1(3)",
                    },
                ],
            },
            {
                "seq": 2,
                "name": "宣传发动阶段",
                "date_text": "6月20日前",
                "start": None,
                "end": (6, 20),
                "date_problem": False,
                "date_note": None,
                "source": "篇5 五.2",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "召开领导小组成员及“两站一中心一小组”人员动员会。",
                        "source": "篇5 五.2(1)",
                    },
                    {
                        "seq": 2,
                        "text": "通过各社区物业执行机构。召开社区居民骨干、楼幢长、党小组长、社区积极分子,进行广泛宣传发动,提高社区居民对实行物业管理的认识,积极协助物管公司开展工作。",
                        "source": "篇5 五.2(2)",
                    },
                ],
            },
            {
                "seq": 3,
                "name": "全面实施阶段",
                "date_text": "6月21日—6月30日",
                "start": (6, 21),
                "end": (6, 30),
                "date_problem": False,
                "date_note": None,
                "source": "篇5 五.3",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "“两站一中心一小组”全面开展工作,切实为社区居民开展物业服务。",
                        "source": "篇5 五.3",
                    },
                ],
            },
        ],
    },
    {
        "code": "p6",
        "name": "篇6 物业管理工作实施方案实施步骤",
        "source": "篇6 三",
        "phases": [
            {
                "seq": 1,
                "name": "制订方案",
                "date_text": "20__年5月-6月15日",
                "start": (5, 1),
                "end": (6, 15),
                "date_problem": False,
                "date_note": "原文起始只写“5月”，未给出日，按5月1日计",
                "source": "篇6 三.1",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "组织街、居工作人员对社区居民住宅进行摸底调查,研究讨论,在征求有关单位和社区居民意见的基础上,划定物业管理小区,制定社区物业管理实施方案。",
                        "source": "篇6 三.1",
                    },
                ],
            },
            {
                "seq": 2,
                "name": "宣传部署",
                "date_text": "20__年5月26日-6月31日",
                "start": (5, 26),
                "end": None,
                "date_problem": True,
                "date_note": "原文“6月31日”不是有效日期（6月只有30天），需人工确定",
                "source": "篇6 三.2",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "召开各种会议,对社区物业管理工作动员部署;运用墙报、黑板报、专栏等形式加大物业管理工作的宣传力度,使社区居民充分认识实行物业管理工作的必要性和意义,以及给群众带来的切身利益。",
                        "source": "篇6 三.2",
                    },
                ],
            },
            {
                "seq": 3,
                "name": "抓好试点",
                "date_text": "20__年6月16日-10月30日",
                "start": (6, 16),
                "end": (10, 30),
                "date_problem": False,
                "date_note": None,
                "source": "篇6 三.3",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "街道确定江滨社区的永乐花园、后溪洋社区的后溪公寓小区、鸿燕社区的黄山新村一路、红山社区的双龙小区、黄山社区的贮木场新村作为物业管理的试点小区。",
                        "source": "篇6 三.3",
                    },
                    {
                        # Kept as a task: the pilot plan is to be written as a separate document.
                        "seq": 2,
                        "text": "试点方案另文。",
                        "source": "篇6 三.3",
                    },
                ],
            },
            {
                "seq": 4,
                "name": "推广",
                "date_text": "20__年11月1日-20__年底",
                "start": (11, 1),
                "end": (12, 31),
                "date_problem": False,
                "date_note": "原文终止写“20__年底”，按12月31日计",
                "source": "篇6 三.4",
                "tasks": [
                    {
                        "seq": 1,
                        "text": "试点工作经验在各社区加以推广,地试点中存在的问题和不中之处加以修正和改善。",
                        "source": "篇6 三.4",
                    },
                    {
                        "seq": 2,
                        "text": "在具体实施过程中搞好分类督促指导,推进《物业管理条例》在我街的全面落实。",
                        "source": "篇6 三.4",
                    },
                ],
            },
        ],
    },
]

# ---------------------------------------------------------------------------
# 9. 分项指标 (篇3 二), all 25 in order; ``text`` is the target as written.
# ---------------------------------------------------------------------------

INDICATORS = [
    {"seq": 1, "name": "房屋完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.1"},
    {"seq": 2, "name": "房屋零修、急修及时率", "comparison": ">=", "value": 99, "unit": "%", "text": "99%",
     "note": "原文未写比较符号；此为及时类比率，按下限（不低于）理解", "source": "篇3 二.2"},
    {"seq": 3, "name": "维修工程质量合格率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.3"},
    {"seq": 4, "name": "管理费收缴率", "comparison": ">=", "value": 98, "unit": "%", "text": "≥98%", "source": "篇3 二.4"},
    {"seq": 5, "name": "绿化完好率", "comparison": ">=", "value": 99, "unit": "%", "text": "99%",
     "note": "原文未写比较符号；此为完好类比率，按下限（不低于）理解（篇3 一.8 写作“绿化完好率99%以上”）", "source": "篇3 二.5"},
    {"seq": 6, "name": "清洁、保洁率", "comparison": ">=", "value": 99, "unit": "%", "text": "≥99%", "source": "篇3 二.6"},
    {"seq": 7, "name": "道路完好率及使用率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.7"},
    {"seq": 8, "name": "化粪池、雨水井、污水井、沙井完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.8"},
    {"seq": 9, "name": "排水管、明暗沟完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.9"},
    {"seq": 10, "name": "路灯完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.10"},
    {"seq": 11, "name": "汽车场完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.11"},
    {"seq": 12, "name": "公共文体设施、建筑小品完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.12"},
    {"seq": 13, "name": "小区内重大刑事案件发生率", "comparison": "=", "value": 0, "unit": "次/年", "text": "0",
     "note": "原文只写“0”，未写单位；按每年发生次数计（同第14项“≤1/年”）", "source": "篇3 二.13"},
    {"seq": 14, "name": "小区内治安案件发生率", "comparison": "<=", "value": 1, "unit": "次/年", "text": "≤1/年", "source": "篇3 二.14"},
    {"seq": 15, "name": "消防设施、设备完好率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.15"},
    {"seq": 16, "name": "火警发生率", "comparison": "<=", "value": 1, "unit": "%", "text": "≤1%", "source": "篇3 二.16"},
    {"seq": 17, "name": "火灾发生率", "comparison": "=", "value": 0, "unit": "%", "text": "0%", "source": "篇3 二.17"},
    {"seq": 18, "name": "违章发生率", "comparison": "<=", "value": 2, "unit": "%", "text": "2%",
     "note": "原文未写比较符号；此为发生率，按上限（不高于）理解", "source": "篇3 二.18"},
    {"seq": 19, "name": "违章处理率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.19"},
    {"seq": 20, "name": "用户有效投诉率", "comparison": "<=", "value": 2, "unit": "%", "text": "≤2%", "source": "篇3 二.20"},
    {"seq": 21, "name": "有效投诉处理率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.21"},
    {"seq": 22, "name": "管理层员工专业培训合格率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.22"},
    {"seq": 23, "name": "特种作业员工持证上岗率", "comparison": "=", "value": 100, "unit": "%", "text": "100%", "source": "篇3 二.23"},
    {"seq": 24, "name": "维修服务回访率", "comparison": ">=", "value": 30, "unit": "%", "text": "≥30%", "source": "篇3 二.24"},
    {"seq": 25, "name": "业主(住户)对物业管理综合满意率", "comparison": ">=", "value": 98, "unit": "%", "text": "≥98%", "source": "篇3 二.25"},
]

# Other numeric commitments and time limits stated elsewhere in the text.
OTHER_TARGETS = [
    {"code": "satisfaction_min_90", "text": "确保业主及使用人综合满意率达到90%以上", "source": "篇4 一"},
    {"code": "cleaning_scored_four_times_monthly", "text": "采用师生监督制和打分制,每月实行四次", "source": "篇2 内部管理 五.2"},
    {"code": "minor_repair_same_night", "text": "小修不过夜", "source": "篇2 内部管理 三"},
    {"code": "major_repair_within_three", "text": "大修不过三", "note": "原文“不过三”未写单位，一般理解为三天", "source": "篇2 内部管理 三"},
    {"code": "callback_within_24h", "text": "回访时间不超过24小时", "source": "篇2 信息沟通 5"},
    {"code": "face_to_face_complaint_reply_12h", "text": "答复时间不超过12小时", "source": "篇2 信息沟通 6"},
    {"code": "suggestion_feedback_2_days", "text": "在二日内反馈处理结果", "source": "篇3 服务特色(二)1"},
    {"code": "suggestion_handled_1_2_days", "text": "时间控制在1~2天", "source": "篇3 服务特色(二)1"},
    {"code": "suggestion_handled_within_week", "text": "一般不超过一周,特殊情况除外", "source": "篇3 服务特色(二)1"},
    {"code": "no_second_postponement", "text": "不得出现同一件事情有两次推迟处理的情况", "source": "篇3 服务特色(二)1"},
    {"code": "dispatch_within_3_minutes", "text": "这一过程不能超过三分钟", "source": "篇3 服务特色(二)2"},
    {"code": "repair_on_site_30_minutes", "text": "30分钟内到场及时排险", "source": "篇5 二(一)5(3)"},
    {"code": "water_repair_same_day", "text": "修水不过天", "source": "篇5 二(一)5(3)"},
    {"code": "power_repair_same_night", "text": "修电不过夜", "source": "篇5 二(一)5(3)"},
    {"code": "patrol_twice_daily", "text": "每天不少于两次在小区内巡逻", "source": "篇5 二(一)4(7)"},
    {"code": "hotline_24h", "text": "全天候24小时专人接听应急报修电话", "source": "篇5 二(一)5(2)"},
]

# ---------------------------------------------------------------------------
# 10. 分类管理模式 (篇5 二(二)1–4)
# ---------------------------------------------------------------------------

MANAGEMENT_MODES = [
    {
        "code": "market",
        "title": "已实施市场化物管的小区管理要求",
        "text": "建立健全业主委员会,协调业主对物管公司的监管;加强物管公司的培训指导,不断提升服务水准;对物管公司的服务质量进行考评,为主管部门年审提供基本意见;参与优秀小区评比活动,推广优秀小区的管理和服务模式,推动物业管理规范运行。",
        "source": "篇5 二(二)1",
    },
    {
        "code": "unit_self",
        "title": "单位自管小区的物管要求",
        "text": "督促自管单位切实担负起物管责任,及时将各级有关检查考评情况向物管公司及其行政主管部门进行通报,形成齐抓共管的合力。",
        "source": "篇5 二(二)2",
    },
    {
        "code": "old_center",
        "title": "不具备市场化运作的老旧小区的接管要求",
        "text": "由街道物业管理服务中心负责有偿提供基本物业服务,经过一段时期运行,逐步过渡到由业主委员会与街道物业管理服务中心签订服务委托合同,进行基本业务规范管理。",
        "source": "篇5 二(二)3",
    },
    {
        "code": "affordable",
        "title": "对经济适用房住宅区的接管要求",
        "text": "经济适用房住宅区属于政府保障性住房,原则上由街道物业服务中心统一实施物业管理,实行低标准收费。开发商按规定建设一定比例的商业用房,其收益用于补贴物业管理费的不足。",
        "source": "篇5 二(二)4",
    },
]
