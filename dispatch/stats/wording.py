"""The statistics' words in Chinese (zh-CN): what each metric's formula says, what each count
behind the figures counts and by which moment it is dated, the names of units, dimensions,
tables and steps, and the notes on how figures are counted. One table for the dashboard's
definitions (`/api/v1/stats/metrics`, the page's tooltips) and the Excel exports' sheet 口径.
A metric or count added to `dispatch.stats.definitions` needs its words here."""

from __future__ import annotations

from dispatch.stats import definitions

# DOMAIN.md's formulas, as the "口径" sheet and the page's tooltips say them.
FORMULAS = {
    "intake": "统计期内受理的工单数（作废工单另计，不计入受理量）",
    "void": "统计期内受理、现已作废的工单数（骚扰、无声、测试电话）",
    "direct_answer_rate": "直接答复的工单数 ÷ 受理量",
    "on_time_sign_rate": "按时签收的派单数 ÷ 签收时限截止时间落在统计期内的派单数",
    "completion_rate": "统计期内派出的工单中已办结（含已审核、已归档）的工单数 ÷ "
                       "统计期内派出的工单数",
    "on_time_completion_rate": "按时办结的派单数 ÷（已办结 + 超过时限仍未办结的派单数）",
    "callback_rate": "已完成回访的工单数 ÷ 审核通过且需要回访的工单数",
    "satisfaction_rate": "（满意 + 基本满意）÷ 有答复的回访数",
    "resolution_rate": "已解决 ÷ 有答复的回访数",
    "repeat_rate": "并单或关联的重复诉求工单数 ÷ 受理量",
    "return_rate": "被退回的派单数 ÷ 派单数",
    "extension_rate": "获批延期的派单数 ÷ 派单数",
    "reopen_rate": "回访不满意或未解决而重办的工单数 ÷ 统计期内派出的工单数",
    "auto_dispatch_rate": "统计期内派出的工单中由系统智能派单（无需派单员）派出的工单数 ÷ "
                          "统计期内派出的工单数",
    "auto_dispatch_accuracy": "智能派单的工单中既未被退单、未被派单员收回、也未改派到其他部门的"
                              "工单数 ÷ 智能派单的工单数",
    "alarm_ack_rate": "紧急警报在 60 秒内被派单员确认的工单数 ÷ 统计期内发出紧急警报的工单数"
                      "（尚在 60 秒内、未确认的警报暂不计入）",
    "patrol_reports": "统计期内网格员巡查上报的工单数（主动发现量，作废的不计）",
    "self_handled_rate": "现场自办自结的巡查上报工单数 ÷ 巡查上报的工单数",
    "overdue_now": "当前有派单超过签收或办结时限的工单数（不限统计期）",
}
# What each count behind the figures counts, and by which moment it is dated.
PARTS = {
    "intake": ("受理工单", "受理时间"),
    "void": ("作废工单", "受理时间"),
    "direct_answer": ("直接答复的工单", "受理时间"),
    "repeat": ("重复诉求（并单）工单", "受理时间"),
    "dispatched": ("派出的工单", "首次派单时间"),
    "completed": ("已办结的工单", "首次派单时间"),
    "reopened": ("重办过的工单", "首次派单时间"),
    "dispatches": ("派单（主办、协办各计）", "派单时间"),
    "returned": ("被退回的派单", "派单时间"),
    "extended": ("获批延期的派单", "派单时间"),
    "sign_on_time": ("按时签收的派单", "签收截止时间"),
    "sign_due": ("签收时限已到的派单（按时 + 逾期）", "签收截止时间"),
    "complete_on_time": ("按时办结的派单", "办结截止时间"),
    "complete_due": ("办结时限已到的派单（按时 + 逾期）", "办结截止时间"),
    "callback_needed": ("需回访的审核通过", "审核时间"),
    "callback_done": ("已完成回访的审核通过", "审核时间"),
    "answered": ("有答复的回访", "回访时间"),
    "satisfied": ("满意或基本满意的回访", "回访时间"),
    "resolved": ("已解决的回访", "回访时间"),
    "auto_dispatched": ("智能派单的工单", "首次派单时间"),
    "auto_accurate": ("智能派单准确（未退单、未收回、未改派）的工单", "首次派单时间"),
    "patrol": ("巡查上报的工单", "受理时间"),
    "self_handled": ("现场自办自结的巡查上报工单", "受理时间"),
    "alarms": ("发出紧急警报的工单", "警报时间"),
    "alarm_acknowledged": ("60 秒内确认警报的工单", "警报时间"),
    "overdue_now": ("当前超期的工单", "当前（不限统计期）"),
}
UNITS = {"ticket": "工单", "assignment": "派单", "review": "审核", "callback": "回访"}
DIMENSION_NAMES = {"channel": "渠道", "type": "诉求类型", "category": "事项分类",
                   "department": "承办部门", "street": "街道/乡镇", "cell": "网格"}
NOT_SET = {"channel": "未知渠道", "type": "未填类型", "category": "未分类",
           "department": "未派单", "street": "无位置", "cell": "无位置"}
TABLE_NAMES = {"summary": "指标汇总", "breakdown": "分组统计", "trend": "趋势",
               "tickets": "工单明细"}
EVERY_NAMES = {"day": "按日", "week": "按周（周一至周日）", "month": "按月"}
NOTES = (
    ("统计期间", "按北京时间（Asia/Shanghai）的自然日计，起止日期均含当日。"),
    ("计数日期", "每个分子、分母按其自身的时刻计入统计期：受理量等按受理时间，"
                 "办结率、重办率按首次派单时间，退单率、延期率按派单时间，"
                 "按时签收率、按时办结率按各自时限的截止时间，回访率按审核通过时间，"
                 "满意率、解决率按回访时间，智能派单率、智能派单准确率按首次派单时间，"
                 "警报确认及时率按警报发出时间。"),
    ("按时率", "主办、协办各自计时、各计一条；办结时限以批准延期后的截止时间为准。"
               "超过截止时间才完成、超过截止时间后退单或关闭、或至今仍未完成且已过截止时间的，"
               "计为逾期；时限未到即退单或关闭、或尚未到期的，不计入。"),
    ("分组口径", "渠道、类型、事项分类、街道、网格按工单当前的值；部门按计数对象所属的部门："
                 "工单计其最新的主办部门，派单计其承办部门，审核与回访计当轮的主办部门。"
                 "未派出的工单无部门。"),
    ("筛选", "事项分类含其下级分类；“未设置”筛选该项为空的记录。"),
    ("智能派单", "智能派单指工单首次派单由系统按分类规则自动派出；被承办部门退单、被派单员收回，"
                 "或此后主办部门改为其他部门的，即为不准确。"),
    ("比率", "分母为 0 时比率为空。比率为 0 至 1 的小数，表中按百分比显示。"),
)


def part_words(name: str) -> tuple[str, str]:
    """A count's Chinese name and dating (a count without words here shows its code)."""
    return PARTS.get(name) or (name, definitions.PARTS[name].dated_by)


def formula(name: str) -> str:
    """A metric's formula in Chinese (the English one when it has no words here)."""
    return FORMULAS.get(name) or definitions.METRICS[name].doc
