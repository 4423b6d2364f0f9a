"""The one translation table of the user interface (zh-CN): codes of DOMAIN.md → Chinese.

Templates use `t(group, code)`; the pages' JavaScript gets the same table as a JSON island
(`base.html`) and uses `H.t(group, code)`. Nothing else in the code holds UI strings for codes.
"""

from __future__ import annotations

from typing import Any

ZH: dict[str, dict[str, str]] = {
    "role": {
        "operator": "话务员", "dispatcher": "派单员", "handler": "承办人",
        "grid_worker": "网格员", "supervisor": "督办员", "leader": "领导", "admin": "管理员",
        "police_desk": "110 报警服务台", "system": "系统",
    },
    "status": {
        "NEW": "待派单", "DISPATCHED": "已派单", "SIGNED": "已签收", "RETURNED": "已退单",
        "COMPLETED": "已办结待审核", "REVIEWED": "待回访", "REOPENED": "重办",
        "ARCHIVED": "已归档", "TRANSFERRED_110": "已转110", "MERGED": "已并单", "VOID": "已作废",
    },
    "assignment_status": {
        "dispatched": "待签收", "signed": "办理中", "completed": "已办结", "returned": "已退单",
        "cancelled": "已撤销",
    },
    "assignment_role": {"lead": "主办", "co": "协办"},
    "action": {
        "intake": "受理", "answer": "直接答复", "dispatch": "派单", "transfer_110": "转110",
        "merge": "并单", "void": "作废", "sign": "签收", "return": "退单", "complete": "办结",
        "review_accept": "审核通过", "review_reject": "审核退回", "callback": "回访",
        "close_without_callback": "免回访归档", "request_extension": "申请延期",
        "approve_extension": "批准延期", "refuse_extension": "驳回延期", "urge": "催办",
        "supervise": "督办", "note": "备注/进展", "call_transfer": "转接电话",
        "relocate": "重新定位", "police_accept": "110 已接收", "police_reject": "110 退回",
        "police_complete": "110 办结", "follow_parent": "随主单归档",
        "recompute_deadlines": "重算时限", "reopen": "重办",
        "raise_alarm": "紧急警报", "acknowledge_alarm": "确认警报", "escalate_alarm": "警报升级",
        "take_back": "收回",
        "request_suspend": "申请挂起", "approve_suspend": "批准挂起", "refuse_suspend": "拒绝挂起",
        "resume": "恢复计时",
        "delegate": "下派", "review_delegated_accept": "下派审核通过",
        "review_delegated_reject": "下派审核退回", "decide_lead": "定责",
        "self_handle": "自办自结",
    },
    "channel": {
        "phone": "电话", "wechat": "微信", "police110": "110 转来", "web": "网站",
        "open311": "开放接口", "patrol": "巡查上报",
    },
    "type": {
        "consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报",
        "suggestion": "建议", "praise": "表扬",
    },
    "urgency": {"normal": "一般", "urgent": "紧急", "critical": "特急"},
    "satisfaction": {
        "satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意",
    },
    "resolved": {"true": "已解决", "false": "未解决"},
    "flag": {
        "near_boundary": "靠近网格边界", "nearest_cell": "就近网格", "outside_grid": "网格范围外",
        "swapped_coordinates": "经纬度疑似颠倒", "address_not_found": "地址未找到",
        "address_approximate": "地址为近似位置", "no_grid": "未配置网格",
    },
    "queue": {
        "to_dispatch": "待派单", "returned": "退单待改派", "extension": "延期申请",
        "review": "办结待审核", "overdue": "超期", "supervised": "督办中",
        "transfer": "110 转来", "alarm": "紧急警报",
    },
    "event_type": {
        "created": "新工单", "updated": "更新", "sla_warning": "临期预警",
        "sla_overdue": "已超期", "transfer": "110 转来", "alarm": "紧急警报",
        "alarm_escalated": "警报升级",
    },
    "police_state": {"pending": "待110接收", "accepted": "110 已接收", "rejected": "110 已退回",
                     "completed": "110 已办结"},
    "alarm": {"raised": "待确认", "escalated": "已升级督办员", "acknowledged": "已确认"},
    "dispatched_by": {"auto": "智能派单", "dispatcher": "人工派单"},
    "clock": {"sign": "签收时限", "complete": "办结时限", "supervise": "督办时限",
              "callback": "回访时限", "suspended": "已挂起"},
    "extension_status": {"pending": "待审批", "approved": "已批准", "refused": "已驳回"},
    "delegation_status": {"dispatched": "待签收", "signed": "办理中", "completed": "已办结待审核",
                          "accepted": "审核通过", "returned": "已退回上级", "cancelled": "已撤销"},
    "suspension_status": {"pending": "待审批", "active": "挂起中", "ended": "已恢复",
                          "refused": "已拒绝"},
    "ui": {
        "app": "12345 热线与 110 联动指挥平台", "login": "登录", "logout": "退出",
        "password": "修改密码", "username": "用户名", "old_password": "原密码",
        "new_password": "新密码", "submit": "提交", "cancel": "取消", "save": "保存",
        "console": "调度台", "intake": "话务受理", "worker": "网格员", "department": "部门工作台",
        "disputes": "定责",
        "dashboard": "领导驾驶舱", "classifier_admin": "分类模型", "triage_admin": "分诊设置",
        "admin": "系统管理", "police": "110 联动", "calls": "呼叫中心", "connected": "已连接",
        "disconnected": "连接已断开，正在重连…", "loading": "加载中…", "empty": "暂无",
        "error": "出错了", "saved": "已保存", "forbidden": "无权访问",
        "not_found": "未找到", "version_conflict": "工单已被他人修改，请刷新后重试",
    },
}

# The house error codes (web/errors.py) as a user reads them.
ZH["error"] = {
    "bad_request": "请求有误", "validation": "填写有误", "unauthorized": "请先登录",
    "forbidden": "无权操作", "not_found": "未找到", "conflict": "当前状态不允许此操作",
    "stale_version": "工单已被他人修改，请刷新后重试", "too_large": "内容过大",
    "unsupported_media_type": "格式不支持", "csrf": "页面已过期，请刷新后重试",
    "invalid": "填写有误", "method_not_allowed": "不支持的请求方式", "internal_error": "服务器出错",
    "import_rejected": "导入未完成",
}
# Calls (dispatch/calls): a call's state, an agent's state, a callback try's outcome, the
# transfer modes.
ZH["call_state"] = {"ringing": "振铃中", "answered": "通话中", "transferred": "已转接",
                    "ended": "已结束", "abandoned": "未接通（已挂断）"}
ZH["agent_state"] = {"idle": "示闲", "busy": "示忙", "on_call": "通话中", "wrap_up": "话后处理"}
ZH["callback_outcome"] = {"reached": "已接通", "no_answer": "无人接听", "busy": "占线",
                          "unreachable": "无法接通"}
ZH["transfer_mode"] = {"blind": "一键转接", "three_way": "三方通话"}
ZH["transfer_command"] = {"sent": "已发送", "queued": "已排队，自动重试", "failed": "发送失败"}
# The kinds of department (grid/departments.py KINDS).
ZH["department_kind"] = {"functional": "职能部门", "territorial": "属地"}
# The fields of the house error (`field`) as a person reads them: a page shows a refusal as
# 「诉求内容」不能为空, not "text: 不能为空" (web/static/js/lib/errors.js).
ZH["field"] = {
    "text": "诉求内容", "type": "诉求类型", "category": "事项分类", "urgency": "紧急程度",
    "channel": "渠道", "citizen": "诉求人", "phone": "电话", "address": "地址", "lon": "经度",
    "lat": "纬度", "reason": "理由", "result": "办理结果", "answer": "答复", "note": "备注",
    "lead": "主办部门", "co_handlers": "协办部门", "grid_worker": "网格员", "days": "天数",
    "arbitration": "仲裁意见", "satisfaction": "满意度", "resolved": "是否解决",
    "attachments": "附件", "photo": "照片", "file": "文件", "version": "版本",
    "username": "用户名", "name": "名称", "display_name": "姓名", "role": "角色",
    "department": "部门", "code": "编码", "kind": "类型", "parent": "上级", "parent_code": "上级",
    "phones": "短信电话", "extension": "分机号", "active": "启用", "new_password": "新密码",
    "old_password": "原密码", "password": "密码", "cell": "网格", "street": "街道", "area": "区域",
    "weekdays": "值班日", "year": "年份", "day": "日期", "from": "开始", "to": "结束",
    "page": "页码", "per_page": "每页条数", "user": "用户", "ticket": "工单", "action": "操作",
    "value": "值", "threshold": "门槛", "incident_no": "警情编号", "to_department": "转往部门",
    "extension_id": "延期申请", "article_id": "知识条目", "radius_m": "范围（米）",
    "until": "恢复日期", "suspension_id": "挂起申请",
    "delegation_id": "下派任务", "unfounded": "退单不实的部门", "self_handled": "现场自办",
    "call_id": "通话编号", "outcome": "回拨结果", "mode": "转接方式", "recording_url": "录音地址",
    "caller": "来电号码", "state": "状态",
}
# How a place was found (grid/geocoder/places.py PRECISIONS).
ZH["precision"] = {
    "point": "坐标点", "landmark": "地标", "intersection": "道路交叉口", "road": "道路",
    "community": "社区", "street": "街道", "address": "地址",
}


# The monthly assessment (dispatch/stats/assessment*.py): an appeal's state, a month's state,
# the items of the score, and the scheme's and the appeal's fields.
ZH["appeal_state"] = {"pending": "待处理", "accepted": "已采纳", "rejected": "已驳回"}
ZH["assessment_state"] = {"draft": "未发布", "published": "已发布"}
ZH["assessment_item"] = {
    "on_time_sign": "按时签收率", "on_time_completion": "按时办结率", "satisfaction": "满意率",
    "resolution": "解决率", "unfounded_returns": "无依据退单", "reopens": "重办",
}
ZH["field"].update({
    "month": "月份", "accept": "是否采纳", "on_time_sign": "按时签收率权重",
    "on_time_completion": "按时办结率权重", "resolution": "解决率权重",
    "unfounded_return_points": "无依据退单每件扣分", "unfounded_return_cap": "无依据退单最多扣分",
    "reopen_points": "重办每件扣分", "reopen_cap": "重办最多扣分",
    "min_assignments": "参与排名的最少派单数",
})
ZH["ui"]["assessment"] = "月度考核"


def t(group: str, code: Any) -> str:
    """The Chinese label of `code` in `group`, or the code itself when there is none."""
    if code is None:
        return ""
    key = str(code).lower() if isinstance(code, bool) else str(code)
    return ZH.get(group, {}).get(key, key)
