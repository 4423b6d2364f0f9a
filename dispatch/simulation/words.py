"""What simulated citizens and staff say and who they are: names, phone numbers, WeChat ids,
the demands by top-level category, results and reasons; and the draws from a random source
(`weighted`, `poisson`)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from types import MappingProxyType

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "桂兰",
    "建华",
    "国强",
    "志刚",
    "海燕",
    "红梅",
    "玉兰",
    "文",
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
DEMANDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "urban": (
            "有人占道经营，堵住了人行道",
            "垃圾桶满了好几天没人清运",
            "路边井盖缺失，存在安全隐患",
            "有人私搭乱建，占用公共空间",
            "渣土车沿路撒漏，尘土很大",
            "违章广告牌遮挡窗户",
        ),
        "environment": (
            "晚上施工噪音很大，影响休息",
            "饭店油烟直排，气味很重",
            "有人焚烧秸秆，烟很大",
            "河道有污水排放，发黑发臭",
            "工厂排放废气，气味刺鼻",
        ),
        "transport": (
            "公交车长时间不来，班次太少",
            "道路破损严重，坑洼积水",
            "路口信号灯故障，通行混乱",
            "出租车拒载、不打表",
            "小区门口乱停车，堵住出口",
        ),
        "utilities": (
            "家里停水一整天了也没有通知",
            "频繁停电，影响正常生活",
            "燃气管道有异味，担心泄漏",
            "暖气不热，室温只有十几度",
            "楼下自来水管道漏水",
        ),
        "housing": (
            "物业服务差，电梯经常坏",
            "新房漏水，开发商不给维修",
            "拆迁安置款迟迟没有发放",
            "不动产证办理进度缓慢",
            "小区公共收益不公开",
        ),
        "market": (
            "在超市买到过期食品",
            "预付卡商家关门，无法退款",
            "商家标价和结算价格不一致",
            "网购商品质量有问题，商家拒绝退换",
            "饭店卫生条件差",
        ),
        "labour": (
            "公司拖欠三个月工资不发",
            "社保缴费记录有误，需要更正",
            "医保报销遇到问题，咨询流程",
            "咨询灵活就业补贴政策",
            "工地不签劳动合同",
        ),
        "health": (
            "医院排队时间太长，服务态度差",
            "咨询疫苗接种的时间和地点",
            "药店药品价格偏高",
            "诊所疑似无证行医",
        ),
        "education": (
            "咨询孩子入学报名的条件",
            "校外培训机构收费后不退费",
            "学校门口交通拥堵，存在隐患",
            "咨询学生资助申请",
        ),
        "civil": (
            "申请低保一直没有回复",
            "咨询老年人补贴怎么领取",
            "残疾人补贴没有按时发放",
            "养老院服务不规范",
        ),
        "rural": (
            "村务不公开，账目不清楚",
            "土地承包合同纠纷，需要协调",
            "购买的化肥质量有问题",
            "农田灌溉渠道堵塞",
        ),
        "public_security": (
            "有人深夜聚集喧哗，疑似打架",
            "咨询户口迁移需要的材料",
            "小区附近有可疑人员",
            "仓库堆放易燃物品，消防隐患",
        ),
        "government": (
            "咨询营业执照办理流程",
            "政务大厅窗口工作人员态度不好",
            "建议增加政务服务网点",
            "咨询公积金提取政策",
        ),
        "other": ("反映其他问题，请相关部门核实", "有事项需要咨询"),
    }
)
RESULTS = (
    "已到现场核实处理，问题已解决",
    "已联系责任单位整改完毕",
    "已协调相关方，达成一致意见",
    "经核查已按规定办理，并向诉求人解释说明",
    "已安排人员维修，恢复正常",
)
RETURN_REASONS = (
    "不属于本单位职责范围，请改派",
    "诉求地址不在本辖区",
    "该事项应由属地街道（乡镇）办理",
)
EXTENSION_REASONS = ("涉及多部门协调，需延长办理时间", "需要现场勘查和第三方检测", "待上级部门批复")
REVIEW_REJECTS = ("办理结果未说明具体措施，请补充", "未附现场情况说明，请补充办理情况")
VOID_REASONS = ("无效来电：骚扰电话", "测试工单", "诉求人挂断，无有效诉求")
ANSWER = "已根据知识库答复诉求人：相关政策和办理流程已告知"
SITE_NOTES = ("已到现场查看，正在协调处理", "现场拍照取证，已通知责任人")
SUSPEND_REASONS = (
    "等待诉求人补充证明材料",
    "涉及诉讼，待法院判决后办理",
    "雨雪天气无法施工，待天气好转",
    "需待农时季节结束后处理",
)
DECIDE_REASONS = (
    "经会商，该事项属本单位法定职责，由其主办",
    "根据三定方案和属地管理原则确定主办单位",
    "经征求各方意见，确定由属地街道（乡镇）主办",
)
# Grid workers' patrol reports (巡查上报): what they find, and what they fix on the spot.
PATROL_FINDINGS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "urban": ("巡查发现路边有占道堆放的杂物", "巡查发现小广告张贴在公交站牌上",
                  "巡查发现井盖松动存在安全隐患"),
        "environment": ("巡查发现垃圾桶满溢、周边有散落垃圾", "巡查发现河道边有人倾倒建筑垃圾"),
        "transport": ("巡查发现路口交通标志被遮挡", "巡查发现人行道地砖破损"),
        "utilities": ("巡查发现路灯不亮", "巡查发现供水管道渗漏"),
    }
)
PATROL_FIXES = ("已现场清理完毕", "已协调物业现场处理完毕", "已现场劝导并整改到位")
APPEAL_REASONS = (
    "诉求人提出超出政策范围的要求，已依法依规答复，不应计入不满意",
    "该事项不属于本单位职责，已按规定退回，不应扣分",
    "超时系等待上级批复所致，已履行报备手续",
)
APPEAL_DECISIONS = {
    True: "经核实，申诉理由成立，予以采纳",
    False: "经核实，办理过程存在不足，申诉理由不成立",
}


# ---------------------------------------------------------------- draws


def weighted(rng: random.Random, mix: Mapping[str, float]) -> str:
    """A key of `mix`, with probability proportional to its weight."""
    keys = list(mix)
    return rng.choices(keys, weights=[mix[k] for k in keys])[0]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count (Knuth's method; the normal approximation above 50)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def mobile(rng: random.Random) -> str:
    """A valid-looking Chinese mobile number."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def openid(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))
