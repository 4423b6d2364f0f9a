"""A realistic synthetic history (`hotline simulate`), made through the domain itself.

Every ticket comes in through `pipeline.intake` (with the county's grid routing), every change
goes through `lifecycle.perform` as the user whose job it is (operators, dispatchers, the
departments' handlers, the cells' grid workers, the 110 desk, the system), follow-up calls
through `contacts.log_contact`, the contacts that make no ticket through `contacts.log_contacts`
(each checked as `log_contact` checks it, written in one INSERT with their batch), SMS and
WeChat callback answers through `callbacks.record_citizen_answer`, and the production clock
sweep (`sweeps.sweep_clocks`) runs at the simulated time, so urges, overdue marks and
supervision happen as they do in production. The event log is therefore real: every figure
computed from it is a figure of this history.

The simulation is event-driven: a heap of (time, sequence, what) on a `ManualClock`; each
ticket's story is a generator that performs its next action and says when the one after is due.
Nothing sleeps. The sweep runs at the ticks of its period (`sweep_minutes`) at which a clock of
the history can step (known from the deadlines each dispatch sets) and after every local
midnight (supervision), not at every idle tick; it runs in a session of its own on the batch's
connection (its commits are savepoints: it sees the batch, and the batch goes on) and only the
tickets it touched are read again. Work is committed in batches (every `commit_every` actions
and at every local midnight, when the day's console events are numbered), so reference data is
read, and a ticket locked, once per batch; every `maintain_every` actions, at a midnight, the
tables it churns are vacuumed and analysed (PostgreSQL), so that a year's dead row versions do
not slow it down. One `random.Random(seed)` draws everything in a fixed order, so the same seed
on the same database gives the same history.

Nothing of the past reaches the outside or a live console: what the history owed (SMS
questionnaires and notices, 110 messages) is marked delivered in the transaction that owed it,
and the console events are numbered daily. A refused action is a bug of the simulation: the run
stops with `SimulationError`, its open batch is rolled back by the caller and the batches
committed before are a consistent, shorter history.

What is drawn, and from which stated distribution, is the `Parameters` dataclass below; the
presets are `seed_county` (a year of the seed county: about 545,000 contacts and 58,000 tickets,
with 办结率 ≈ 92 %, 回访率 ≈ 100 %, 满意率 ≈ 98 %) and `small` (a week, for tests and demos).
The grid comes in through ports: `Places` (points inside the county's cells, by street) and the
intake ports (locator and router); this module imports nothing outside `dispatch/`.
"""

from __future__ import annotations

import calendar as month_calendar
import heapq
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

from sqlalchemy import Engine, and_, func, inspect, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dispatch.console import feed
from dispatch.console.feed import ConsoleEvent
from dispatch.core.commands import (
    AnswerPayload,
    CallbackPayload,
    CallTransferPayload,
    CitizenIn,
    CompletePayload,
    DispatchPayload,
    ExtensionDecisionPayload,
    ExtensionRefusalPayload,
    ExtensionRequestPayload,
    MergePayload,
    NoPayload,
    NotePayload,
    PoliceAcceptPayload,
    PoliceCompletePayload,
    ReasonRequired,
    Strict,
    TicketCreate,
)
from dispatch.core.models import (
    Assignment,
    CalendarDay,
    Category,
    Contact,
    Event,
    Extension,
    Ticket,
    User,
)
from dispatch.core.ports import DepartmentRef, Directory, IntakePorts, ManualClock
from dispatch.core.vocab import (
    CLOSED_STATES,
    AssignmentStatus,
    Channel,
    ContactKind,
    RequestType,
    Role,
    Satisfaction,
    Status,
    Urgency,
)
from dispatch.intake.contacts import ContactCreate, log_contact, log_contacts, record_contact
from dispatch.intake.pipeline import intake
from dispatch.outbound.callbacks import answer_note, record_citizen_answer
from dispatch.outbound.outbox import OutboxMessage
from dispatch.tickets.calendar import LOCAL_TZ, ensure_years
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import Actor, lead_assignment, perform, ticket_location
from dispatch.tickets.sweeps import sweep_clocks

# The channel adapters' actors, as `web/` defines them for its hooks.
WECHAT_ACTOR = Actor(None, Role.SYSTEM, username="wechat")
OPEN311_ACTOR = Actor(None, Role.SYSTEM, None, "open311")
WEB_ACTOR = Actor(None, Role.SYSTEM, username="web")
POLICE_DESK = Actor(None, Role.POLICE_DESK, username="police110")

HANDLING = frozenset({Status.DISPATCHED, Status.SIGNED})
TERRITORIAL = "territorial"


def _fixed(mapping: Mapping[str, Any]) -> Any:
    """A read-only mapping as a dataclass field's default."""
    frozen = MappingProxyType(dict(mapping))
    return field(default_factory=lambda: frozen)


# ---------------------------------------------------------------- stated distributions


@dataclass(frozen=True)
class Lognormal:
    """A positive duration: `median` × e^(σ·Z) with Z standard normal (handling times have a
    long right tail); the unit is the field's (hours unless it says minutes or days)."""

    median: float
    sigma: float

    def draw(self, rng: random.Random) -> float:
        return self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0))


@dataclass(frozen=True)
class Parameters:
    """The stated distributions of a simulated history (shares are fractions 0–1; mixes are
    relative weights; durations in hours unless the name says otherwise)."""

    name: str
    days: int
    # Volume: tickets per day on an average day of the year (before seasonality), and all
    # contacts (calls, messages, transfers; a ticket's own contact included) per ticket.
    tickets_per_day: float
    contacts_per_ticket: float

    # What the contacts that make no ticket are (ContactKind → weight).
    contact_mix: Mapping[str, float] = _fixed(
        {
            ContactKind.ENQUIRY: 0.33,
            ContactKind.FOLLOW_UP: 0.22,
            ContactKind.SILENT: 0.17,
            ContactKind.HANG_UP: 0.14,
            ContactKind.PRANK: 0.08,
            ContactKind.WRONG_NUMBER: 0.06,
        }
    )
    enquiry_wechat_share: float = 0.15

    # Tickets: channel, category (top level; the leaf uniformly below it), type and urgency.
    channel_mix: Mapping[str, float] = _fixed(
        {
            Channel.PHONE: 0.80,
            Channel.WECHAT: 0.10,
            Channel.POLICE110: 0.05,
            Channel.WEB: 0.03,
            Channel.OPEN311: 0.02,
        }
    )
    category_mix: Mapping[str, float] = _fixed(
        {
            "urban": 0.16,
            "environment": 0.08,
            "transport": 0.07,
            "utilities": 0.12,
            "housing": 0.10,
            "market": 0.08,
            "labour": 0.07,
            "health": 0.04,
            "education": 0.05,
            "civil": 0.04,
            "rural": 0.05,
            "public_security": 0.04,
            "government": 0.08,
            "other": 0.02,
        }
    )
    # Seasonal multipliers of a category's weight by month (Jan … Dec): heating in winter,
    # water and power in summer, noise and straw burning, school enrolment.
    category_seasons: Mapping[str, tuple[float, ...]] = _fixed(
        {
            "utilities": (1.4, 1.2, 0.9, 0.8, 0.9, 1.1, 1.4, 1.4, 1.0, 0.8, 1.1, 1.4),
            "environment": (0.8, 0.8, 0.9, 1.0, 1.2, 1.3, 1.3, 1.2, 1.0, 1.2, 1.1, 0.8),
            "education": (0.6, 0.7, 0.9, 0.9, 1.0, 1.3, 1.6, 2.0, 1.6, 0.8, 0.7, 0.6),
            "labour": (1.5, 1.6, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1, 1.6),
        }
    )
    type_mix: Mapping[str, float] = _fixed(
        {
            RequestType.COMPLAINT: 0.38,
            RequestType.CONSULT: 0.30,
            RequestType.HELP: 0.17,
            RequestType.REPORT: 0.07,
            RequestType.SUGGESTION: 0.05,
            RequestType.PRAISE: 0.03,
        }
    )
    urgency_mix: Mapping[str, float] = _fixed(
        {
            Urgency.NORMAL: 0.92,
            Urgency.URGENT: 0.07,
            Urgency.CRITICAL: 0.01,
        }
    )

    # When: month of the year (Jan … Dec), day of the week (Mon … Sun), hour of the day
    # (local, 0 … 23); a public holiday weighs `holiday_weight`, a make-up working day 1.
    month_weights: tuple[float, ...] = (
        1.00,
        0.80,
        0.95,
        0.95,
        1.00,
        1.08,
        1.18,
        1.15,
        1.02,
        0.92,
        0.95,
        1.00,
    )
    weekday_weights: tuple[float, ...] = (1.12, 1.06, 1.04, 1.02, 1.00, 0.88, 0.88)
    hour_weights: tuple[float, ...] = (
        0.3,
        0.2,
        0.15,
        0.1,
        0.1,
        0.2,
        0.5,
        1.2,
        2.6,
        3.4,
        3.5,
        3.0,
        2.0,
        1.8,
        2.6,
        3.0,
        3.0,
        2.6,
        1.8,
        1.5,
        1.3,
        1.1,
        0.8,
        0.5,
    )
    holiday_weight: float = 0.75

    # Where: a street's weight (the county's streets not named weigh `street_weight_default`);
    # the place is a point inside a cell of the street, the cell drawn uniformly.
    street_weights: Mapping[str, float] = _fixed(
        {
            "street_pudong": 3.0,
            "street_puxi": 3.0,
            "street_pubei": 2.5,
            "street_nanpu": 2.5,
            "street_weizhuang": 2.0,
        }
    )
    street_weight_default: float = 1.0

    # Who calls.
    anonymous_share: float = 0.05
    confidential_share: float = 0.03
    direct_contact_share: float = 0.3  # of confidential demands
    named_share: float = 0.85
    wechat_phone_share: float = 0.3  # WeChat citizens who leave a phone number too
    open311_phone_share: float = 0.5

    # What becomes of a ticket at the desk.
    void_share: float = 0.012  # a prank or test noticed only after logging
    direct_answer: Mapping[str, float] = _fixed(
        {  # by request type, phone and WeChat only
            RequestType.CONSULT: 0.65,
            RequestType.HELP: 0.10,
            RequestType.SUGGESTION: 0.05,
            RequestType.COMPLAINT: 0.01,
        }
    )
    police_share: float = 0.02  # police matters, transferred to 110 (phone and WeChat)
    call_transfer_share: float = 0.5  # of phone police matters: a one-key transfer first
    police_reject_share: float = 0.1  # 110 says it is not a police matter: back to NEW
    police_answer_minutes: Lognormal = Lognormal(8.0, 0.6)
    police_handling: Lognormal = Lognormal(3.0, 0.8)
    repeat_share: float = 0.05  # a demand repeating an open one (same caller or nearby)
    repeat_same_caller_share: float = 0.6
    merge_share: float = 0.75  # of repeats the dispatcher finds among the candidates

    # Dispatch and handling.
    desk_minutes: Lognormal = Lognormal(3.0, 0.5)  # void, answer, transfer during the call
    dispatch_minutes: Lognormal = Lognormal(12.0, 0.8)
    sign: Mapping[str, Lognormal] = _fixed(
        {
            Urgency.CRITICAL: Lognormal(0.15, 0.5),
            Urgency.URGENT: Lognormal(0.6, 0.6),
            Urgency.NORMAL: Lognormal(3.0, 1.0),
        }
    )
    # Time from signing to completion, by urgency; normal ones by the long types (complaint,
    # report, suggestion, with 7 working days) and the short ones (3 working days).
    complete: Mapping[str, Lognormal] = _fixed(
        {
            Urgency.CRITICAL: Lognormal(6.0, 0.6),
            Urgency.URGENT: Lognormal(20.0, 0.6),
            "normal_short": Lognormal(30.0, 0.6),
            "normal_long": Lognormal(60.0, 0.6),
        }
    )
    office_hours: tuple[int, int] = (8, 20)  # normal-urgency work waits for these (local)
    co_sign_share: float = 0.9
    co_complete_share: float = 0.8
    site_note_share: float = 0.3  # a grid worker's progress note from the place
    return_share: float = 0.06  # per assignment
    return_before_sign_share: float = 0.7
    return_same_share: float = 0.2  # the dispatcher sends it back to the same assignee
    max_returns: int = 2
    extension_share: float = 0.05  # a handler asks for more time before the deadline
    extension_approve_share: float = 0.85
    extension_days: tuple[int, int] = (3, 7)
    late_share: float = 0.02  # completed after the deadline
    late_by: Lognormal = Lognormal(20.0, 0.9)
    # 疑难件: long cases (land, wages, relocation, building quality) that ask for extensions,
    # run overdue, get supervised, and may still be open when the period ends.
    hard_share: float = 0.105
    hard_days: Lognormal = Lognormal(240.0, 1.0)
    decision_hours: Lognormal = Lognormal(2.0, 0.8)  # a dispatcher's extension decision
    review_hours: Lognormal = Lognormal(2.0, 0.8)
    review_reject_share: float = 0.03
    rework_hours: Lognormal = Lognormal(8.0, 0.7)

    # Callback (回访) and satisfaction.
    sms_reply_share: float = 0.3  # citizens who answer the SMS questionnaire
    sms_reply_hours: Lognormal = Lognormal(1.5, 1.0)
    wechat_reply_share: float = 0.6
    callback_hours: Lognormal = Lognormal(4.0, 0.6)
    callback_retry_hours: Lognormal = Lognormal(3.0, 0.5)
    reach_share: float = 0.88  # per call attempt (3 attempts, then unreachable)
    satisfaction_mix: Mapping[str, float] = _fixed(
        {
            Satisfaction.SATISFIED: 0.885,
            Satisfaction.BASICALLY_SATISFIED: 0.095,
            Satisfaction.DISSATISFIED: 0.02,
        }
    )
    resolved_given: Mapping[str, float] = _fixed(
        {
            Satisfaction.SATISFIED: 0.995,
            Satisfaction.BASICALLY_SATISFIED: 0.97,
            Satisfaction.DISSATISFIED: 0.35,
        }
    )
    reopen_dissatisfied_factor: float = 0.5  # each handling round after a reopen pleases more

    # The machinery.
    sweep_minutes: int = 10
    commit_every: int = 2000  # actions per transaction (and at every local midnight)
    # Actions between two VACUUM (ANALYZE)s of the tables the history churns, at a midnight
    # (PostgreSQL): a bulk writer keeps the planner's statistics and the indexes fit itself,
    # whether or not autovacuum runs.
    maintain_every: int = 20_000

    def scaled(self, scale: float) -> Parameters:
        """The same history at `scale` times the volume."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        return replace(self, tickets_per_day=self.tickets_per_day * scale)


SEED_COUNTY = Parameters(
    name="seed_county", days=365, tickets_per_day=58_000 / 365, contacts_per_ticket=545_000 / 58_000
)
SMALL = replace(SEED_COUNTY, name="small", days=7, tickets_per_day=30.0)
PRESETS: Mapping[str, Parameters] = MappingProxyType({p.name: p for p in (SEED_COUNTY, SMALL)})


# ---------------------------------------------------------------- the world it runs in


@dataclass(frozen=True)
class Spot:
    """A place of a demand: a WGS-84 point inside a cell, its street and how a citizen names
    it."""

    lon: float
    lat: float
    street: str
    address: str


class Places(Protocol):
    def streets(self) -> Sequence[str]:
        """The streets (街道/乡镇) of the county, by code."""
        ...

    def spot(self, street: str, rng: random.Random) -> Spot:
        """A random point inside one of the street's cells."""
        ...


@dataclass(frozen=True)
class Staff:
    """Who does the work: the county's users, as the domain sees them."""

    operators: tuple[Actor, ...]
    dispatchers: tuple[Actor, ...]
    handlers: Mapping[str, tuple[Actor, ...]]  # department → its handlers
    workers: Mapping[int, Actor]  # grid worker's user id → actor


@dataclass(frozen=True)
class World:
    """The county: places, staff, the category tree and the street offices."""

    places: Places
    staff: Staff
    leaves: Mapping[str, tuple[str, ...]]  # top-level category → its leaf categories
    offices: Mapping[str, str]  # street → its territorial office (a department)
    fallback_lead: str  # the lead when neither the routing nor a street office gives one


PortsFactory = Callable[[Session, datetime], IntakePorts]
Progress = Callable[[float, float, int, int], None]  # hours done, total, tickets, contacts


class SimulationError(RuntimeError):
    """The domain refused a simulated action: a bug of the simulation, not of the history."""


def load_staff(session: Session) -> Staff:
    """The active operators, dispatchers, handlers and grid workers."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()

    def actors(role: str) -> tuple[Actor, ...]:
        return tuple(_actor(u) for u in users if u.role == role)

    handlers: dict[str, list[Actor]] = {}
    for u in users:
        if u.role == Role.HANDLER and u.department_code:
            handlers.setdefault(u.department_code, []).append(_actor(u))
    return Staff(
        actors(Role.OPERATOR),
        actors(Role.DISPATCHER),
        MappingProxyType({k: tuple(v) for k, v in handlers.items()}),
        MappingProxyType({u.id: _actor(u) for u in users if u.role == Role.GRID_WORKER}),
    )


def _actor(user: User) -> Actor:
    return Actor(user.id, Role(user.role), user.department_code, user.username)


def handler_username(department: str) -> str:
    """The username of the handler the simulation adds for a department that has none."""
    return f"handler_{department}"[:40]


def ensure_handlers(
    session: Session, departments: Sequence[DepartmentRef], password_hash: str
) -> list[str]:
    """Give every active department without an active handler one demo handler (the demo
    county ships with handlers for two departments only); the usernames added."""
    staffed = set(
        session.scalars(
            select(User.department_code).where(User.role == Role.HANDLER, User.active.is_(True))
        )
    )
    taken = set(session.scalars(select(User.username)))
    added = []
    for dept in departments:
        name = handler_username(dept.code)
        if not dept.active or dept.code in staffed or name in taken:
            continue
        session.add(
            User(
                username=name,
                display_name=f"{dept.name}承办人",
                role=Role.HANDLER,
                department_code=dept.code,
                password_hash=password_hash,
                active=True,
                demo=True,
            )
        )
        added.append(name)
    session.flush()
    return added


def category_leaves(session: Session) -> dict[str, tuple[str, ...]]:
    """Each active top-level category with its active leaves (itself when it has none)."""
    rows = session.execute(
        select(Category.code, Category.parent_code)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    parent = dict(rows)
    has_children = {p for _, p in rows if p is not None}
    leaves: dict[str, list[str]] = {code: [] for code, p in rows if p is None}
    for code, _ in rows:
        if code in has_children:
            continue
        top = code
        while parent.get(top) is not None:
            top = parent[top]
        if top in leaves:
            leaves[top].append(code)
    return {top: tuple(found or [top]) for top, found in leaves.items()}


def build_world(
    session: Session,
    places: Places,
    departments: Sequence[DepartmentRef],
    fallback_lead: str = "government_services_big_data",
) -> World:
    """The world a simulation runs in, read from the database and the places port."""
    offices = {
        d.street_code: d.code
        for d in departments
        if d.kind == TERRITORIAL and d.street_code and d.active
    }
    return World(
        places,
        load_staff(session),
        MappingProxyType(category_leaves(session)),
        MappingProxyType(offices),
        fallback_lead,
    )


# ---------------------------------------------------------------- words

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


def day_weight(p: Parameters, day: date, working: bool | None) -> float:
    """The relative volume of a local day: month × weekday (a holiday or make-up working day
    as the calendar says), each normalised to average 1 over a year and a week."""
    days_in = [month_calendar.monthrange(2025, m)[1] for m in range(1, 13)]
    month_mean = sum(w * d for w, d in zip(p.month_weights, days_in, strict=True)) / 365
    week_mean = sum(p.weekday_weights) / 7
    weekday = p.weekday_weights[day.weekday()]
    if working is False and day.weekday() < 5:
        weekday = p.holiday_weight
    elif working is True and day.weekday() >= 5:
        weekday = week_mean
    return (p.month_weights[day.month - 1] / month_mean) * (weekday / week_mean)


# ---------------------------------------------------------------- the engine


@dataclass(eq=False)
class Case:
    """One simulated demand: its ticket and what was decided for it."""

    ticket: Ticket
    category: str
    type: str
    urgency: str
    path: str  # void | answer | police | handle
    parent: Case | None = None
    classified: bool = True  # False: the dispatcher sets category, type and urgency
    rounds: int = 0


@dataclass
class Counters:
    tickets: int = 0
    contacts: int = 0
    actions: int = 0
    sweeps: int = 0
    commits: int = 0


@dataclass(frozen=True)
class Rate:
    """A rate with the counts behind it."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class SimulationReport:
    """What a run made, counted from the database (its own tickets and contacts only)."""

    preset: str
    seed: int
    scale: float
    start: datetime
    end: datetime
    contacts: Mapping[str, int]
    tickets_by_channel: Mapping[str, int]
    tickets_by_status: Mapping[str, int]
    actions: Mapping[str, int]
    completion: Rate
    callback: Rate
    satisfaction: Rate
    overdue_assignments: int
    wall_seconds: float
    counters: Counters = field(default_factory=Counters)

    @property
    def tickets(self) -> int:
        return sum(self.tickets_by_channel.values())

    @property
    def total_contacts(self) -> int:
        return sum(self.contacts.values())

    @property
    def tickets_per_second(self) -> float:
        return self.tickets / self.wall_seconds if self.wall_seconds else 0.0


DAY, SWEEP, CLOCK, CONTACT, DEMAND, STEP = range(6)
# The tables a history writes again and again (vacuumed now and then).
CHURNED = (Ticket, Assignment, Extension, Event, Contact, ConsoleEvent, OutboxMessage)
# What a sweep may change on a ticket: its columns and its events (urge, supervise).
SWEPT_TICKET = [*(c.key for c in inspect(Ticket).column_attrs), "events"]
HANDLING_ASSIGNMENT = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


class Simulation:
    """One run: `Simulation(...).run()` makes the history and returns its report."""

    def __init__(
        self,
        session: Session,
        params: Parameters,
        world: World,
        *,
        start: datetime,
        seed: int,
        ports: PortsFactory,
        directory: Directory,
        scale: float = 1.0,
        days: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if not world.staff.operators or not world.staff.dispatchers:
            raise SimulationError("the county has no operator or no dispatcher")
        self.session = session
        self.p = params.scaled(scale)
        self.scale = scale
        self.world = world
        self.rng = random.Random(seed)
        self.seed = seed
        self.ports_for = ports
        self.directory = directory
        self.progress = progress
        self.start = start.astimezone(UTC)
        self.clock = ManualClock(self.start)
        self.end = self.start + timedelta(days=days if days is not None else params.days)
        self.counters = Counters()
        self._heap: list[tuple[datetime, int, int, Any]] = []
        self._seq = 0
        self._pending = 0  # actions since the last commit
        self._maintained = 0  # actions when the tables were last vacuumed
        self._open: list[Case] = []  # open handled cases (follow-ups and repeats pick here)
        self._open_at: dict[int, int] = {}  # id(case) → position in _open
        self._logged: list[tuple[ContactCreate, Actor, datetime]] = []  # contacts to write
        self._incidents = 0
        self._sweeps: set[datetime] = set()
        streets = [s for s in world.places.streets()]
        self._streets = streets
        self._street_w = [
            params.street_weights.get(s, params.street_weight_default) for s in streets
        ]
        self._hours = list(range(24))
        self._workdays: dict[date, bool] = {}
        self._max_extensions = get_time_limits(session).max_extensions

    # ------------------------------------------------------------ running

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def run(self) -> SimulationReport:
        """Make the history from `start` for the period; commits as it goes."""
        t0 = time.perf_counter()
        s = self.session
        self._first_ticket = (s.scalar(select(func.max(Ticket.id))) or 0) + 1
        self._first_contact = (s.scalar(select(func.max(Contact.id))) or 0) + 1
        self._load_calendar()
        s.commit()
        self._loop()
        return self.report(time.perf_counter() - t0)

    def _loop(self) -> None:
        first_day = self.start.astimezone(LOCAL_TZ).date()
        self._push(self.start, DAY, first_day)
        total = (self.end - self.start).total_seconds() / 3600
        last_report = self.start
        while self._heap and self._heap[0][0] < self.end:
            at, _, kind, what = heapq.heappop(self._heap)
            self.clock.current = max(self.clock.current, at)
            if kind == DAY:
                self._plan_day(what)
                self._number_feed()
            elif kind == SWEEP:
                self._sweeps.discard(at)
                self._sweep()
            elif kind == CLOCK:
                self._clock_step(*what)
            elif kind == CONTACT:
                self._contact(what)
            elif kind == DEMAND:
                self._demand()
            else:
                self._advance(what)
            if self._pending >= self.p.commit_every:
                self._commit()
            if self.progress and self.now - last_report >= timedelta(hours=1):
                last_report = self.now
                self.progress(
                    (self.now - self.start).total_seconds() / 3600,
                    total,
                    self.counters.tickets,
                    self.counters.contacts,
                )
        self.clock.current = max(self.clock.current, self.end)
        self._sweep()
        self._number_feed()
        if self.progress:
            self.progress(total, total, self.counters.tickets, self.counters.contacts)

    def _push(self, at: datetime, kind: int, what: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at.astimezone(UTC), self._seq, kind, what))

    def _commit(self) -> None:
        s = self.session
        if self._logged:  # the batch's contacts that made no ticket, in one INSERT
            log_contacts(s, self._logged)
            self._logged.clear()
        # What the history owed outside parties (SMS, 110) was sent at the time: mark it
        # delivered in the same transaction, so no deliverer ever sends a simulated message.
        s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.dead.is_(False),
                OutboxMessage.ticket_id >= self._first_ticket,
                OutboxMessage.created_at >= self.start,
                OutboxMessage.created_at <= self.now,
            )
            .values(delivered_at=OutboxMessage.created_at, attempts=1, receipt={"simulated": True})
            .execution_options(synchronize_session=False)
        )
        s.commit()
        self._pending = 0
        self.counters.commits += 1

    def _sweep(self) -> None:
        """The production clock sweep at the simulated time, in a session of its own on this
        transaction's connection (its commits are savepoints: it sees the batch and the batch
        goes on); what it changed is expired here, so only those tickets are read again."""
        s = self.session
        s.flush()
        with Session(
            s.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as sweeper:
            report = sweep_clocks(sweeper, self.now, directory=self.directory)
        held = s.identity_map
        for f in report.fired:
            ticket = held.get(identity_key(Ticket, f.ticket_id))
            if ticket is not None:  # its columns and events; its assignments are the same
                s.expire(ticket, SWEPT_TICKET)
            assignment = held.get(identity_key(Assignment, f.assignment_id))
            if assignment is not None:
                s.expire(assignment)
        self.counters.sweeps += 1

    def _number_feed(self) -> None:
        # Number the console events of the past (what a relay does before it sends), so
        # that no live console is ever sent the simulated history.
        self._commit()
        feed.number_pending(self.session)
        if self.counters.actions - self._maintained >= self.p.maintain_every:
            self._maintain()

    def _maintain(self) -> None:
        """VACUUM (ANALYZE) the tables the history churns, between two transactions: their
        dead row versions go and the planner sees their size (PostgreSQL; SQLite needs none)."""
        self._maintained = self.counters.actions
        bind = self.session.get_bind()
        if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
            return
        tables = ", ".join(m.__tablename__ for m in CHURNED)
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM (ANALYZE) {tables}"))

    def _plan_sweep(self, at: datetime) -> None:
        """A sweep at the first tick of the sweep period strictly after `at` (production
        sweeps every minute; here only the ticks at which some clock can fire are swept)."""
        step = timedelta(minutes=self.p.sweep_minutes)
        tick = self.start + step * (math.floor((at - self.start) / step) + 1)
        if tick not in self._sweeps and tick >= self.now:
            self._sweeps.add(tick)
            self._push(tick, SWEEP, None)

    def _watch(self, ticket: Ticket) -> None:
        """After a dispatch or a moved deadline: the times its running clocks step."""
        for a in ticket.assignments:
            if a.closed_at is not None or a.status not in HANDLING_ASSIGNMENT:
                continue
            if a.status == AssignmentStatus.DISPATCHED:
                self._push(a.sign_warn_at, CLOCK, (a, True))
                self._push(a.sign_deadline, CLOCK, (a, True))
            self._push(a.complete_warn_at, CLOCK, (a, False))
            self._push(a.complete_deadline, CLOCK, (a, False))

    def _clock_step(self, a: Assignment, sign: bool) -> None:
        """A clock may step now: sweep at the next tick if it still runs."""
        if a.closed_at is not None:
            return
        running = (
            a.status == AssignmentStatus.DISPATCHED if sign else a.status in HANDLING_ASSIGNMENT
        )
        if running:
            self._plan_sweep(self.now)

    def _load_calendar(self) -> None:
        first = self.start.astimezone(LOCAL_TZ).date()
        last = self.end.astimezone(LOCAL_TZ).date()
        ensure_years(self.session, range(first.year, last.year + 1))
        rows = self.session.execute(
            select(CalendarDay.day, CalendarDay.working).where(
                CalendarDay.day >= first, CalendarDay.day <= last
            )
        )
        self._workdays = {d: w for d, w in rows}

    # ------------------------------------------------------------ arrivals

    def _plan_day(self, day: date) -> None:
        """Draw the day's demands and other contacts at their hours; plan the next day."""
        p = self.p
        lam = p.tickets_per_day * day_weight(p, day, self._workdays.get(day))
        tickets = poisson(self.rng, lam)
        others = poisson(self.rng, lam * max(p.contacts_per_ticket - 1, 0))
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)
        for kind, n in ((DEMAND, tickets), (CONTACT, others)):
            for _ in range(n):
                hour = self.rng.choices(self._hours, weights=p.hour_weights)[0]
                at = midnight + timedelta(hours=hour, seconds=self.rng.uniform(0, 3600))
                if self.start <= at < self.end:
                    self._push(
                        at, kind, weighted(self.rng, p.contact_mix) if kind == CONTACT else None
                    )
        self._push(midnight + timedelta(days=1), DAY, day + timedelta(days=1))
        # Supervision comes due as a local day ends (overdue by N working days): sweep then.
        self._plan_sweep(max(midnight, self.now))

    def _contact(self, kind: str) -> None:
        """A contact that makes no ticket: a follow-up on an open ticket, or an enquiry, a
        silent, prank, hang-up or wrong-number call, logged by an operator."""
        rng = self.rng
        operator = rng.choice(self.world.staff.operators)
        case = self._pick_open() if kind == ContactKind.FOLLOW_UP else None
        if kind == ContactKind.FOLLOW_UP and case is None:
            kind = ContactKind.ENQUIRY
        if case is not None:
            body = ContactCreate(
                channel=Channel.PHONE,
                kind=ContactKind.FOLLOW_UP,
                phone=case.ticket.citizen_phone,
                ticket=case.ticket.number,
                note="询问办理进度",
            )
            log_contact(
                self.session,
                body,
                actor=operator,
                now=self.now,
                directory=self.directory,
                ticket=case.ticket,
            )
            self._actions(1)
        else:
            channel = (
                Channel.WECHAT
                if kind == ContactKind.ENQUIRY and rng.random() < self.p.enquiry_wechat_share
                else Channel.PHONE
            )
            body = ContactCreate(
                channel=channel,
                kind=ContactKind(kind),
                phone=mobile(rng) if channel == Channel.PHONE else None,
            )
            self._logged.append((body, operator, self.now))  # written with the batch
        self.counters.contacts += 1
        self._pending += 1

    def _pick_open(self) -> Case | None:
        for _ in range(3):
            if not self._open:
                return None
            case = self._open[self.rng.randrange(len(self._open))]
            if case.ticket.citizen_phone and case.ticket.status not in CLOSED_STATES:
                return case
        return None

    def _demand(self) -> None:
        """A new demand: drawn, logged through intake, and its story started."""
        p, rng, now = self.p, self.rng, self.now
        channel = weighted(rng, p.channel_mix)
        parent = self._pick_open() if rng.random() < p.repeat_share else None
        local_month = now.astimezone(LOCAL_TZ).month - 1
        police = (
            channel in (Channel.PHONE, Channel.WECHAT)
            and parent is None
            and rng.random() < p.police_share
        )
        if parent is not None:
            category = parent.category
            top = category.split(".", 1)[0]
        else:
            weights = {
                c: w * p.category_seasons.get(c, (1.0,) * 12)[local_month]
                for c, w in p.category_mix.items()
                if c in self.world.leaves
            }
            top = "public_security" if police else weighted(rng, weights)
            leaves = self.world.leaves[top]
            if police:
                leaves = tuple(c for c in leaves if ".public_order" in c) or leaves
            category = rng.choice(leaves)
        rtype = weighted(rng, p.type_mix)
        urgency = Urgency.URGENT if police else weighted(rng, p.urgency_mix)

        # Who and where.
        same_caller = parent is not None and rng.random() < p.repeat_same_caller_share
        if same_caller and parent is not None:
            phone, oid = parent.ticket.citizen_phone, parent.ticket.citizen_openid
            name = parent.ticket.citizen_name
        else:
            phone, oid, name = self._caller(channel)
        anonymous = rng.random() < p.anonymous_share and parent is None
        confidential = rng.random() < p.confidential_share
        direct = confidential and rng.random() < p.direct_contact_share
        if parent is not None and parent.ticket.lon is not None:
            t = parent.ticket
            lon = t.lon + rng.uniform(-0.0008, 0.0008)
            lat = t.lat + rng.uniform(-0.0006, 0.0006)
            address = t.address
        else:
            street = rng.choices(self._streets, weights=self._street_w)[0]
            spot = self.world.places.spot(street, rng)
            lon, lat, address = spot.lon, spot.lat, spot.address
        text = f"{address or ''}{rng.choice(DEMANDS.get(top, DEMANDS['other']))}。"
        classified = channel == Channel.PHONE
        data = TicketCreate(
            channel=Channel(channel),
            text=text,
            citizen=CitizenIn(
                name=name,
                phone=phone,
                openid=oid,
                anonymous=anonymous,
                confidential=confidential,
                direct_contact=direct,
            ),
            address=address,
            lon=round(lon, 6),
            lat=round(lat, 6),
            type=RequestType(rtype) if classified else None,
            category=category if classified else None,
            urgency=Urgency(urgency) if classified else None,
            police_matter=True if police else None,
        )
        actor, ref = self._intake_actor(channel)
        result = intake(
            self.session,
            data,
            actor,
            now=now,
            ports=self.ports_for(self.session, now),
            external_ref=ref,
            contact_external_id=ref,
        )
        self.counters.tickets += 1
        self.counters.contacts += 1
        self._actions(1)

        # What becomes of it.
        if rng.random() < p.void_share and parent is None and channel != Channel.POLICE110:
            path = "void"
        elif police:
            path = "police"
        elif (
            channel in (Channel.PHONE, Channel.WECHAT)
            and parent is None
            and rng.random() < p.direct_answer.get(rtype, 0.0)
        ):
            path = "answer"
        else:
            path = "handle"
        found = {r.number for r in result.repeats}
        merge_into = (
            parent
            if parent is not None and parent.ticket.number in found and rng.random() < p.merge_share
            else None
        )
        case = Case(result.ticket, category, rtype, urgency, path, merge_into, classified)
        if path == "handle" and merge_into is None:
            self._remember(case)
        self._advance(self._story(case))

    def _caller(self, channel: str) -> tuple[str | None, str | None, str | None]:
        rng, p = self.rng, self.p
        name = person(rng) if rng.random() < p.named_share else None
        if channel == Channel.WECHAT:
            phone = mobile(rng) if rng.random() < p.wechat_phone_share else None
            return phone, openid(rng), name
        if channel == Channel.OPEN311 and rng.random() >= p.open311_phone_share:
            return None, None, name
        return mobile(rng), None, name

    def _intake_actor(self, channel: str) -> tuple[Actor, str | None]:
        if channel == Channel.PHONE:
            return self.rng.choice(self.world.staff.operators), None
        if channel == Channel.WECHAT:
            return WECHAT_ACTOR, None
        if channel == Channel.OPEN311:
            return OPEN311_ACTOR, None
        if channel == Channel.WEB:
            return WEB_ACTOR, None
        return POLICE_DESK, self._incident()

    def _incident(self) -> str:
        """A 110 incident number, unique in the database (the run's first ticket id is in
        it, so a second run over the same days makes new ones)."""
        self._incidents += 1
        day = self.now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
        return f"J410728{day}{self._first_ticket % 10_000:04d}{self._incidents:06d}"

    def _remember(self, case: Case) -> None:
        self._open_at[id(case)] = len(self._open)
        self._open.append(case)

    def _forget(self, case: Case) -> None:
        at = self._open_at.pop(id(case), None)
        if at is None:
            return
        last = self._open.pop()
        if last is not case:
            self._open[at] = last
            self._open_at[id(last)] = at

    # ------------------------------------------------------------ stories

    def _advance(self, story: Iterator[float | datetime]) -> None:
        """Run a story to its next wait, and schedule it."""
        try:
            wait = next(story)
        except StopIteration:
            return
        at = wait if isinstance(wait, datetime) else self.now + timedelta(hours=wait)
        self._push(max(at, self.now), STEP, story)

    def _actions(self, n: int) -> None:
        self.counters.actions += n
        self._pending += n

    def act(
        self,
        ticket: Ticket,
        action: str,
        actor: Actor,
        payload: Strict,
        ports: IntakePorts | None = None,
    ) -> None:
        """Take one action of the state table; a refusal stops the run (a simulation bug)."""
        from dispatch.core.errors import DomainError

        try:
            perform(
                self.session,
                ticket,
                action,
                actor,
                payload,
                now=self.now,
                directory=self.directory,
                ports=ports,
            )
        except DomainError as exc:
            raise SimulationError(
                f"{self.now.isoformat()}: ticket {ticket.number} ({ticket.status}): "
                f"'{action}' by {actor.username} was refused: {exc.message}"
            ) from exc
        self._actions(1)
        if action in ("dispatch", "approve_extension"):
            self._watch(ticket)

    def _minutes(self, dist: Lognormal) -> float:
        return dist.draw(self.rng) / 60

    def _office(self, hours: float, urgency: str = Urgency.NORMAL) -> datetime:
        """`hours` from now, moved into office hours for normal-urgency work."""
        at = self.now + timedelta(hours=hours)
        if urgency != Urgency.NORMAL:
            return at
        opens, closes = self.p.office_hours
        local = at.astimezone(LOCAL_TZ)
        if opens <= local.hour < closes:
            return at
        day = local.date() + timedelta(days=1) if local.hour >= closes else local.date()
        start = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)
        return start + timedelta(hours=opens, minutes=self.rng.uniform(0, 90))

    def _dispatcher(self) -> Actor:
        return self.rng.choice(self.world.staff.dispatchers)

    def _operator(self) -> Actor:
        return self.rng.choice(self.world.staff.operators)

    def _story(self, case: Case) -> Iterator[float | datetime]:
        """The life of a ticket after intake."""
        p, rng, t = self.p, self.rng, case.ticket
        try:
            if case.path == "void":
                yield self._minutes(p.desk_minutes)
                self.act(
                    t, "void", self._operator(), ReasonRequired(reason=rng.choice(VOID_REASONS))
                )
                return
            if case.path == "answer":
                yield self._minutes(p.desk_minutes)
                self.act(t, "answer", self._operator(), AnswerPayload(answer=ANSWER))
                return
            if case.path == "police":
                handled = yield from self._police(case)
                if handled:
                    return
            if case.parent is not None:
                yield self._minutes(p.dispatch_minutes)
                parent = case.parent.ticket
                if (
                    t.status == Status.NEW
                    and parent.status not in CLOSED_STATES
                    and not t.children
                    and parent.parent_id is None
                ):
                    self.act(
                        t,
                        "merge",
                        self._dispatcher(),
                        MergePayload(parent=parent.number, reason="重复诉求，并单处理"),
                    )
                    return
                self._remember(case)
            yield from self._handle(case)
        finally:
            self._forget(case)

    def _police(self, case: Case) -> Iterator[float]:
        """A police matter: out to 110, which accepts and handles it, or rejects it back."""
        p, rng, t = self.p, self.rng, case.ticket
        operator = self._operator()
        yield self._minutes(p.desk_minutes)
        if t.channel == Channel.PHONE and rng.random() < p.call_transfer_share:
            self.act(
                t,
                "call_transfer",
                operator,
                CallTransferPayload(kind="one_key", to="110", reason="涉警事项，一键转110"),
            )
        self.act(t, "transfer_110", operator, ReasonRequired(reason="涉警事项，转110处置"))
        yield self._minutes(p.police_answer_minutes)
        if rng.random() < p.police_reject_share:
            self.act(
                t, "police_reject", POLICE_DESK, ReasonRequired(reason="非警情，请12345按职责办理")
            )
            case.path = "handle"
            self._remember(case)
            return False
        self.act(t, "police_accept", POLICE_DESK, PoliceAcceptPayload(incident_no=self._incident()))
        yield p.police_handling.draw(rng)
        self.act(
            t, "police_complete", POLICE_DESK, PoliceCompletePayload(result="110已出警处置完毕")
        )
        return True

    def _handle(self, case: Case) -> Iterator[float | datetime]:
        """Dispatch, handling (returns, extensions, lateness), review and callback; again
        after a reopen."""
        p, rng, t = self.p, self.rng, case.ticket
        while True:
            case.rounds += 1
            yield self._minutes(p.dispatch_minutes)
            self._dispatch(case)
            returns = 0
            while True:
                lead = lead_assignment(t)
                assert lead is not None
                assignee = self._assignee(lead)
                for co in [a for a in t.assignments if a.role == "co" and a.closed_at is None]:
                    self._advance(self._co_story(case, co))
                if returns < p.max_returns and rng.random() < p.return_share:
                    returns += 1
                    yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
                    if rng.random() >= p.return_before_sign_share:
                        self.act(t, "sign", assignee, NoPayload())
                        yield self._office(rng.uniform(0.5, 8.0), case.urgency)
                    self.act(
                        t, "return", assignee, ReasonRequired(reason=rng.choice(RETURN_REASONS))
                    )
                    yield self._minutes(p.dispatch_minutes)
                    self._redispatch(case, lead.department_code)
                    continue
                yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
                self.act(t, "sign", assignee, NoPayload())
                break
            yield from self._work(case, lead, assignee)
            while True:
                yield self._office(p.review_hours.draw(rng), case.urgency)
                if rng.random() < p.review_reject_share:
                    self.act(
                        t,
                        "review_reject",
                        self._dispatcher(),
                        ReasonRequired(reason=rng.choice(REVIEW_REJECTS)),
                    )
                    yield self._office(p.rework_hours.draw(rng), case.urgency)
                    self.act(t, "complete", assignee, self._result(t, assignee))
                    continue
                self.act(t, "review_accept", self._dispatcher(), NoPayload())
                break
            if t.status != Status.REVIEWED:
                return  # archived at once: nobody to call back
            yield from self._callback(case)
            if t.status != Status.REOPENED:
                return

    def _dispatch(self, case: Case) -> None:
        t = case.ticket
        fields: dict[str, Any] = {}
        ports = None
        if not case.classified:  # the dispatcher classifies what a channel left open
            fields = {
                "category": case.category,
                "type": RequestType(case.type),
                "urgency": Urgency(case.urgency),
            }
            case.classified = True
            ports = self.ports_for(self.session, self.now)
            routing = ports.router.route(case.category, ticket_location(t))
            if routing.lead is None:
                fields["lead"] = self._territorial(t)
        elif t.status != Status.REOPENED and not (t.routing or {}).get("lead"):
            fields["lead"] = self._territorial(t)
        self.act(t, "dispatch", self._dispatcher(), DispatchPayload(**fields), ports=ports)

    def _redispatch(self, case: Case, returned_by: str) -> None:
        t, rng = case.ticket, self.rng
        lead = returned_by
        if rng.random() >= self.p.return_same_share:
            office = self._territorial(t)
            suggested = (t.routing or {}).get("lead")
            choices = [
                c for c in (office, suggested, self.world.fallback_lead) if c and c != returned_by
            ]
            lead = choices[0] if choices else returned_by
        self.act(
            t,
            "dispatch",
            self._dispatcher(),
            DispatchPayload(
                lead=lead,
                reason="退单改派" if lead != returned_by else "经核实属于贵单位职责，请继续办理",
            ),
        )

    def _territorial(self, t: Ticket) -> str:
        return self.world.offices.get(t.street_code or "", self.world.fallback_lead)

    def _assignee(self, a: Assignment) -> Actor:
        """Who works an assignment: its grid worker (mostly) or a handler of the department."""
        staff = self.world.staff
        if (
            a.grid_worker_id is not None
            and a.grid_worker_id in staff.workers
            and self.rng.random() < 0.8
        ):
            return staff.workers[a.grid_worker_id]
        handlers = staff.handlers.get(a.department_code)
        if not handlers:
            raise SimulationError(
                f"department {a.department_code} has no handler: run ensure_handlers first"
            )
        return self.rng.choice(handlers)

    def _result(self, t: Ticket, actor: Actor) -> CompletePayload:
        text = self.rng.choice(RESULTS)
        if actor.role == Role.GRID_WORKER and t.lon is not None and t.lat is not None:
            return CompletePayload(result=text, lon=t.lon, lat=t.lat)
        return CompletePayload(result=text)

    def _work(self, case: Case, lead: Assignment, assignee: Actor) -> Iterator[float | datetime]:
        """From signing to completion: on time, late, extended or a long hard case."""
        p, rng, t = self.p, self.rng, case.ticket
        u = rng.random()
        kind = (
            "hard"
            if u < p.hard_share
            else "late"
            if u < p.hard_share + p.late_share
            else "extend"
            if u < p.hard_share + p.late_share + p.extension_share
            else "normal"
        )
        if case.rounds > 1 and kind == "hard":
            kind = "normal"
        key = (
            case.urgency
            if case.urgency != Urgency.NORMAL
            else (
                "normal_short"
                if case.type in (RequestType.CONSULT, RequestType.HELP, RequestType.PRAISE)
                else "normal_long"
            )
        )
        target = self.now + timedelta(hours=p.complete[key].draw(rng))
        if kind in ("late", "extend"):  # more time than the clock gives
            target = lead.complete_deadline + timedelta(hours=p.late_by.draw(rng))
        elif kind == "hard":
            target = self.now + timedelta(days=p.hard_days.draw(rng))
        if assignee.role == Role.GRID_WORKER and rng.random() < p.site_note_share:
            yield min(target, self.now + timedelta(hours=rng.uniform(0.5, 6)))
            if t.status == Status.SIGNED:
                self.act(
                    t,
                    "note",
                    assignee,
                    NotePayload(text=rng.choice(SITE_NOTES), lon=t.lon, lat=t.lat),
                )
        asks = 2 if kind == "hard" else 1 if kind == "extend" else 0
        for _ in range(asks):
            deadline = lead.complete_deadline
            if target <= deadline or lead.extensions_used >= self._max_extensions:
                break
            ask_at = self.now + (deadline - self.now) * rng.uniform(0.5, 0.9)
            yield ask_at
            if self.now >= lead.complete_deadline or t.status != Status.SIGNED:
                break
            days = rng.randint(*p.extension_days)
            self.act(
                t,
                "request_extension",
                assignee,
                ExtensionRequestPayload(days=days, reason=rng.choice(EXTENSION_REASONS)),
            )
            yield self._office(p.decision_hours.draw(rng))
            if rng.random() < p.extension_approve_share:
                self.act(t, "approve_extension", self._dispatcher(), ExtensionDecisionPayload())
                if kind == "extend":  # mostly done within the new deadline
                    span = (lead.complete_deadline - deadline).total_seconds()
                    target = deadline + timedelta(seconds=span * rng.uniform(0.1, 1.05))
            else:
                self.act(
                    t,
                    "refuse_extension",
                    self._dispatcher(),
                    ExtensionRefusalPayload(reason="事项较简单，请按时办结"),
                )
        yield max(target, self.now + timedelta(minutes=10))
        self.act(t, "complete", assignee, self._result(t, assignee))

    def _co_story(self, case: Case, a: Assignment) -> Iterator[float | datetime]:
        """A co-handler signs and reports its part before the lead, when it gets to it."""
        p, rng, t = self.p, self.rng, case.ticket
        if rng.random() >= p.co_sign_share:
            return
        handlers = self.world.staff.handlers.get(a.department_code)
        if not handlers:
            return
        actor = rng.choice(handlers)
        yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
        if (
            a.closed_at is not None
            or a.status != AssignmentStatus.DISPATCHED
            or t.status not in HANDLING
        ):
            return
        self.act(t, "sign", actor, NoPayload())
        if rng.random() >= p.co_complete_share:
            return
        yield self._office(p.complete["normal_short"].draw(rng) / 2, case.urgency)
        if (
            a.closed_at is not None
            or a.status != AssignmentStatus.SIGNED
            or t.status not in HANDLING
        ):
            return
        self.act(t, "complete", actor, CompletePayload(result="协办部分已办理完毕"))

    def _answer(self, round_no: int) -> tuple[str, bool]:
        p, rng = self.p, self.rng
        mix = dict(p.satisfaction_mix)
        dissatisfied = Satisfaction.DISSATISFIED
        mix[dissatisfied] = mix.get(dissatisfied, 0.0) * p.reopen_dissatisfied_factor ** (
            round_no - 1
        )
        satisfaction = weighted(rng, mix)
        resolved = rng.random() < p.resolved_given.get(satisfaction, 1.0)
        return satisfaction, resolved

    def _callback(self, case: Case) -> Iterator[float | datetime]:
        """The citizen answers the SMS or WeChat questionnaire, or an operator calls (three
        tries, then unreachable)."""
        p, rng, t = self.p, self.rng, case.ticket
        questionnaire = bool(t.citizen_phone) and (not t.confidential or t.direct_contact)
        wechat_only = not t.citizen_phone and bool(t.citizen_openid)
        if (questionnaire and rng.random() < p.sms_reply_share) or (
            wechat_only and rng.random() < p.wechat_reply_share
        ):
            yield p.sms_reply_hours.draw(rng)
            if t.status == Status.REVIEWED and self._reply(
                case, "wechat" if wechat_only else "sms"
            ):
                return
        operator = self._operator()
        for attempt in range(3):
            wait = p.callback_hours if attempt == 0 else p.callback_retry_hours
            yield self._office(wait.draw(rng))
            if t.status != Status.REVIEWED:
                return
            via = "wechat" if wechat_only else "phone"
            if rng.random() < p.reach_share:
                satisfaction, resolved = self._answer(case.rounds)
                self.act(
                    t,
                    "callback",
                    operator,
                    CallbackPayload(
                        reached=True,
                        satisfaction=Satisfaction(satisfaction),
                        resolved=resolved,
                        via=via,
                    ),
                )
                return
            self.act(t, "callback", operator, CallbackPayload(reached=False, via=via))

    def _reply(self, case: Case, via: str) -> bool:
        """The citizen's questionnaire reply, recorded as the SMS and WeChat hooks do."""
        t = case.ticket
        satisfaction, resolved = self._answer(case.rounds)
        digit = {
            Satisfaction.SATISFIED: "1",
            Satisfaction.BASICALLY_SATISFIED: "2",
            Satisfaction.DISSATISFIED: "3",
        }[Satisfaction(satisfaction)]
        text = f"工单{t.number}：{digit}，{'4' if resolved else '5'}"
        # The citizen answers by SMS from their phone, or by WeChat from their OpenID.
        sender = {"phone": t.citizen_phone} if via == "sms" else {"openid": t.citizen_openid}
        outcome = record_citizen_answer(
            self.session, text=text, channel=via, now=self.now, directory=self.directory, **sender
        )
        record_contact(
            self.session,
            channel=Channel.PHONE if via == "sms" else Channel.WECHAT,
            kind=ContactKind.FOLLOW_UP,
            received_at=self.now,
            actor_id=None,
            ticket=outcome.ticket,
            note=answer_note(text),
            **sender,
        )
        self.counters.contacts += 1
        self._actions(1)
        if outcome.recorded and outcome.ticket is not t:
            raise SimulationError(
                f"the reply quoting {t.number} was recorded on "
                f"{outcome.ticket.number if outcome.ticket else None}"
            )
        return outcome.recorded

    # ------------------------------------------------------------ the report

    def report(self, wall_seconds: float) -> SimulationReport:
        """Count what this run made, from the database."""
        return summarise(
            self.session,
            self._first_ticket,
            self._first_contact,
            preset=self.p.name,
            seed=self.seed,
            scale=self.scale,
            start=self.start,
            end=self.end,
            wall_seconds=wall_seconds,
            counters=self.counters,
        )


def summarise(
    session: Session,
    first_ticket: int,
    first_contact: int,
    *,
    preset: str,
    seed: int,
    scale: float,
    start: datetime,
    end: datetime,
    wall_seconds: float,
    counters: Counters | None = None,
) -> SimulationReport:
    """The report of the tickets (id ≥ `first_ticket`) and contacts (id ≥ `first_contact`) of
    a run: counts, and the completion (办结率), callback (回访率) and satisfaction (满意率)
    rates of DOMAIN.md computed from their events."""
    s = session
    ours = Event.ticket_id >= first_ticket

    def grouped(column: Any, *where: Any) -> dict[str, int]:
        rows = s.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(column)
        )
        return {str(k): int(n) for k, n in rows}

    def tickets_with(*where: Any) -> int:
        return s.scalar(select(func.count(func.distinct(Event.ticket_id))).where(ours, *where)) or 0

    dispatched = tickets_with(Event.action == "dispatch")
    completed = tickets_with(Event.action == "complete", Event.to_status == Status.COMPLETED)
    needing = tickets_with(Event.action == "review_accept", _payload_true("callback_needed"))
    called = tickets_with(
        Event.action == "callback",
        Event.ticket_id.in_(
            select(Event.ticket_id).where(
                ours, Event.action == "review_accept", _payload_true("callback_needed")
            )
        ),
    )
    satisfaction = _satisfaction(s, first_ticket)
    overdue = (
        s.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.ticket_id >= first_ticket,
                and_(Assignment.complete_overdue_at.is_not(None)),
            )
        )
        or 0
    )
    return SimulationReport(
        preset=preset,
        seed=seed,
        scale=scale,
        start=start,
        end=end,
        contacts=grouped(Contact.kind, Contact.id >= first_contact),
        tickets_by_channel=grouped(Ticket.channel, Ticket.id >= first_ticket),
        tickets_by_status=grouped(Ticket.status, Ticket.id >= first_ticket),
        actions=grouped(Event.action, ours),
        completion=Rate(completed, dispatched),
        callback=Rate(called, needing),
        satisfaction=satisfaction,
        overdue_assignments=overdue,
        wall_seconds=wall_seconds,
        counters=counters or Counters(),
    )


def _payload_true(key: str) -> Any:
    # JSON on SQLite, JSONB on PostgreSQL: compare the extracted value as JSON text.
    return Event.payload[key].as_boolean().is_(True)


def _satisfaction(session: Session, first_ticket: int) -> Rate:
    """(satisfied + basically satisfied) ÷ callbacks with an answer, from the events."""
    rows = session.execute(
        select(Event.payload).where(Event.ticket_id >= first_ticket, Event.action == "callback")
    ).scalars()
    answered = good = 0
    for payload in rows:
        if not (payload or {}).get("reached"):
            continue
        answered += 1
        if payload.get("satisfaction") in (
            Satisfaction.SATISFIED,
            Satisfaction.BASICALLY_SATISFIED,
        ):
            good += 1
    return Rate(good, answered)


__all__ = [
    "Parameters",
    "Lognormal",
    "PRESETS",
    "SEED_COUNTY",
    "SMALL",
    "Spot",
    "Places",
    "Staff",
    "World",
    "Simulation",
    "SimulationReport",
    "SimulationError",
    "Rate",
    "build_world",
    "ensure_handlers",
    "load_staff",
    "category_leaves",
    "summarise",
    "handler_username",
    "day_weight",
    "poisson",
    "weighted",
]
