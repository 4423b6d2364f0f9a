"""The old system's vocabulary this import understands (headings, channels, types,
urgencies, answers, states; the mapping file may add its own labels) and the file's limits."""

from __future__ import annotations

import re

from phonenumbers import PhoneMetadata

from dispatch.core.vocab import (
    Channel,
    RequestType,
    Satisfaction,
    Status,
    Urgency,
)

MAX_ROWS = 2_000_000
MAX_BYTES = 2 * 1024 * 1024 * 1024
BATCH = 2000

# Chinese heading → field. The English field names are accepted as headings too.
HEADINGS: dict[str, str] = {
    "原工单编号": "ref",
    "受理时间": "created_at",
    "渠道": "channel",
    "诉求类型": "type",
    "事项分类": "category",
    "紧急程度": "urgency",
    "诉求内容": "text",
    "诉求人": "citizen_name",
    "联系电话": "citizen_phone",
    "匿名": "anonymous",
    "保密": "confidential",
    "地址": "address",
    "经度": "lon",
    "纬度": "lat",
    "坐标系": "crs",
    "承办单位": "department",
    "状态": "state",
    "派单时间": "dispatched_at",
    "签收时间": "signed_at",
    "办结时间": "completed_at",
    "办结情况": "result",
    "回访时间": "callback_at",
    "满意度": "satisfaction",
    "是否解决": "resolved",
    "归档时间": "closed_at",
}
FIELD_NAMES: dict[str, str] = {f: h for h, f in HEADINGS.items()}

CHANNELS: dict[str, str] = {
    "电话": Channel.PHONE, "热线": Channel.PHONE, "12345": Channel.PHONE,
    "12345热线": Channel.PHONE, "微信": Channel.WECHAT, "公众号": Channel.WECHAT,
    "110": Channel.POLICE110, "110转办": Channel.POLICE110, "110联动": Channel.POLICE110,
    "网站": Channel.WEB, "网页": Channel.WEB, "网络": Channel.WEB, "open311": Channel.OPEN311,
    **{c.value: c.value for c in Channel},
}
TYPES: dict[str, str] = {
    "咨询": RequestType.CONSULT, "求助": RequestType.HELP, "投诉": RequestType.COMPLAINT,
    "举报": RequestType.REPORT, "建议": RequestType.SUGGESTION, "表扬": RequestType.PRAISE,
    **{t.value: t.value for t in RequestType},
}
URGENCIES: dict[str, str] = {
    "一般": Urgency.NORMAL, "普通": Urgency.NORMAL, "紧急": Urgency.URGENT,
    "特急": Urgency.CRITICAL, **{u.value: u.value for u in Urgency},
}
UNREACHABLE = "unreachable"
SATISFACTIONS: dict[str, str] = {
    "满意": Satisfaction.SATISFIED, "非常满意": Satisfaction.SATISFIED,
    "基本满意": Satisfaction.BASICALLY_SATISFIED, "不满意": Satisfaction.DISSATISFIED,
    "无法联系": UNREACHABLE, "联系不上": UNREACHABLE, "未联系上": UNREACHABLE,
    **{s.value: s.value for s in Satisfaction}, UNREACHABLE: UNREACHABLE,
}
YES = frozenset({"是", "y", "yes", "true", "1", "已解决"})
NO = frozenset({"否", "n", "no", "false", "0", "未解决"})

# The old system's states this import understands (the mapping file may add its own labels).
ANSWERED = "ANSWERED"  # answered directly at intake: ARCHIVED with the outcome direct_answer
STATES: dict[str, str] = {
    "待派单": Status.NEW, "待处理": Status.NEW, "已受理": Status.NEW,
    "直接答复": ANSWERED, "已答复": ANSWERED, "直办": ANSWERED,
    "已派单": Status.DISPATCHED, "待签收": Status.DISPATCHED,
    "已签收": Status.SIGNED, "办理中": Status.SIGNED, "处理中": Status.SIGNED,
    "已退单": Status.RETURNED, "退单": Status.RETURNED,
    "已办结": Status.COMPLETED, "待审核": Status.COMPLETED,
    "已审核": Status.REVIEWED, "待回访": Status.REVIEWED,
    "重办": Status.REOPENED,
    "已归档": Status.ARCHIVED, "已完成": Status.ARCHIVED, "办结归档": Status.ARCHIVED,
    "作废": Status.VOID, "无效": Status.VOID,
    ANSWERED: ANSWERED, "direct_answer": ANSWERED,
    **{s.value: s.value for s in Status if s not in (Status.MERGED, Status.TRANSFERRED_110)},
}
# The numbering plan's mobile numbers (what phonenumbers calls a valid MOBILE in CN).
def _mobile_pattern() -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    return re.compile(pattern or r"(?!)")


CN_MOBILE = _mobile_pattern()

HANDLED = (Status.DISPATCHED, Status.SIGNED, Status.RETURNED, Status.COMPLETED,
           Status.REVIEWED, Status.REOPENED, Status.ARCHIVED)
