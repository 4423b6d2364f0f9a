"""What a simulated history is drawn from: the stated distributions of `Parameters` (volumes by
month, weekday and hour, the channel, category, type and urgency mixes, the shares of each
path a demand takes and the times each step takes), the presets (`seed_county`, `small`), and
the relative volume of a day (`day_weight`)."""

from __future__ import annotations

import calendar as month_calendar
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from dispatch.core.vocab import (
    Channel,
    ContactKind,
    RequestType,
    Satisfaction,
    Status,
    Urgency,
)

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
    # An emergency from an unattended channel raises an alarm on the console: a dispatcher
    # acknowledges it after this many seconds (about one in six takes over a minute, when the
    # sweep has escalated it to the supervisors first).
    alarm_ack_seconds: Lognormal = Lognormal(25.0, 0.9)
    # Of tickets dispatched automatically (智能派单): taken back by a dispatcher and dispatched
    # by hand.
    take_back_share: float = 0.03
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

    # Grid governance (DOMAIN.md "Grid governance").
    # 下派: a street office's handler who signed for its assignment passes it down to one of
    # its communities or villages, or to a grid worker of its subtree; the office reviews what
    # comes back (镇审核) and now and then rejects it once.
    delegate_share: float = 0.5  # of a street office's assignments its handler signs for
    delegate_worker_share: float = 0.4  # … to a grid worker (else to a community or village)
    delegated_reject_share: float = 0.15  # the office's review sends the work back once
    # 巡查上报: grid workers' patrol reports a day, as a share of the day's demands; the share
    # fixed on the spot (自办自结, with photos before and after), the rest dispatched.
    patrol_share: float = 0.08
    patrol_self_share: float = 0.6
    # 挂起: an assignee asks to stop the completion clock until a date; a dispatcher approves
    # or refuses; the assignee resumes early, or the sweep at the end date.
    suspend_share: float = 0.03  # of assignments signed for (not the long hard cases)
    suspend_approve_share: float = 0.8
    suspend_days: tuple[int, int] = (3, 14)  # calendar days asked for
    resume_early_share: float = 0.3
    # 会商定责: after one return, the next department returns the ticket too (twice returned:
    # the office's 定责 queue); of the departments that returned it, each judged unfounded.
    return_again_share: float = 0.35
    unfounded_share: float = 0.6
    decide_hours: Lognormal = Lognormal(6.0, 0.6)  # the office's 定责 after the second return
    # 考核 and 申诉: a month the history covers is published by the office on the first working
    # day after it (at `publish_hour` local); some departments appeal a ticket of their
    # deductions within the window; the office accepts or rejects each.
    publish_hour: int = 10
    appeal_departments: int = 4  # departments with deductions that appeal one ticket
    appeal_hours: Lognormal = Lognormal(20.0, 0.5)  # from publication to an appeal
    appeal_decision_hours: Lognormal = Lognormal(6.0, 0.5)
    appeal_accept_share: float = 0.5

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

    # The demo's live moments at the end of the period (the `recent` preset of `make run`):
    # `finale_hotspot` similar demands (one category, within about 150 m of each other) over
    # the last 80 minutes, an emerging hotspot (dispatch.stats.hotspots: 5 of one category
    # within 500 m in 2 hours) the dispatcher sees forming; `finale_police_pending` police
    # matters transferred to 110 in the last minutes that 110 has not answered yet. 0: none.
    finale_hotspot: int = 0
    finale_police_pending: int = 0

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
# The lived-in demo of `make run` (`hotline simulate --preset recent --until-now`): five weeks
# ending now, light enough to be made in well under a minute (fewer calls that make no ticket).
# It ends on a hotspot forming and a transfer to 110 waiting for the desk.
RECENT = replace(SEED_COUNTY, name="recent", days=35, tickets_per_day=18.0, contacts_per_ticket=3.0,
                 finale_hotspot=6, finale_police_pending=1)
PRESETS: Mapping[str, Parameters] = MappingProxyType(
    {p.name: p for p in (SEED_COUNTY, SMALL, RECENT)}
)


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
