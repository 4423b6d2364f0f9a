"""The payloads of the ticket actions and of intake: one pydantic schema each.

These schemas validate what arrives and, through `web/`, generate the OpenAPI document, so the
document says exactly what the endpoints accept.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dispatch.core.errors import InvalidInput
from dispatch.core.validation import first_error
from dispatch.core.vocab import Channel, RequestType, Satisfaction, Urgency

MAX_TEXT = 4000
# The largest value of a database integer column (PostgreSQL `integer`): every id, version,
# offset or count taken from a client is bounded by it, so a larger one is refused as input
# rather than failing in the database.
MAX_INT = 2**31 - 1

M = TypeVar("M", bound=BaseModel)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Id = Annotated[int, Field(ge=1, le=MAX_INT)]
Offset = Annotated[int, Field(ge=0, le=MAX_INT)]


def kinds_of(annotation: Any) -> set[Any]:
    """Every type a field's annotation names, through unions, lists and `Annotated`."""
    kinds: set[Any] = set()
    stack = [annotation]
    while stack:
        kind = stack.pop()
        try:
            kinds.add(kind)
        except TypeError:  # an unhashable annotation argument (a FieldInfo's constraints)
            continue
        stack.extend(get_args(kind))
    return kinds


def _integral_float(text: str) -> float | int:
    """A JSON number with a zero fraction (85.0, 8.5e1) as the integer it is."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        """Refuse NUL characters in any text: PostgreSQL cannot store or compare them."""
        items = value if isinstance(value, list | tuple | set | frozenset) else (value,)
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("不能含 NUL 字符")
        return value


class CitizenIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    openid: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    anonymous: bool = False
    confidential: bool = False
    direct_contact: bool = Field(
        False, description="the ticket needs a direct contact and the citizen agreed"
    )


Crs = Literal["WGS84", "CGCS2000", "GCJ02", "BD09"]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def swapped_hint(value: Any, info: ValidationInfo) -> Any:
    """A latitude beyond ±90 next to a longitude within it is most likely a swapped pair."""
    lon = info.data.get("lon")
    if (isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > 90
            and isinstance(lon, int | float) and abs(lon) <= 90):
        raise ValueError(f"须在 -90 到 90 之间（收到 {value}），经度和纬度是否填反了？")
    return value


class TicketCreate(Strict):
    """A new demand (the operator's intake form, or a channel adapter)."""

    _swapped = field_validator("lat", mode="before")(swapped_hint)

    channel: Channel
    text: Text
    citizen: CitizenIn = CitizenIn()
    address: Address | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: Crs = "WGS84"
    type: RequestType | None = None
    category: Code | None = None
    urgency: Urgency | None = None
    police_matter: bool | None = None


class NoPayload(Strict):
    """An action that needs nothing but the version."""

    reason: Reason | None = None


class ReasonRequired(Strict):
    reason: Reason


class AnswerPayload(Strict):
    answer: Text
    article_id: Id | None = None
    article_version: Id | None = None
    reason: Reason | None = None


class DispatchPayload(Strict):
    lead: Code | None = Field(None, description="lead department code; default: the routing's")
    co_handlers: list[Code] = Field(default_factory=list, max_length=10)
    grid_worker: Code | None = Field(None, description="username of a grid worker")
    type: RequestType | None = None
    category: Code | None = None
    urgency: Urgency | None = None
    reason: Reason | None = None


class MergePayload(Strict):
    parent: Code = Field(description="number of the open ticket this one repeats")
    reason: Reason | None = None


MAX_ATTACHMENTS = 9
AttachmentIds = Annotated[list[Id], Field(
    max_length=MAX_ATTACHMENTS,
    description="ids of photos uploaded to this ticket by the same user "
    "(POST /api/v1/tickets/{number}/attachments), not yet used by another action")]


class Evidence(Strict):
    """Photos and the place a report was made from (a grid worker on site)."""

    _swapped = field_validator("lat", mode="before")(swapped_hint)

    attachments: AttachmentIds = Field(default_factory=list)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False,
                              description="where the report was made from (WGS-84)")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)


class CompletePayload(Evidence):
    result: Text
    publish: bool = Field(False, description="show the result's photos to the citizen (/track)")
    reason: Reason | None = None


class CallbackPayload(Strict):
    reached: bool = True
    satisfaction: Satisfaction | None = None
    resolved: bool | None = None
    via: Literal["phone", "sms", "wechat", "web"] = "phone"
    reason: Reason | None = None


class ExtensionRequestPayload(Strict):
    days: int = Field(ge=1, le=60, description="working days asked for")
    reason: Reason


class ExtensionDecisionPayload(Strict):
    extension_id: Id | None = Field(None, description="default: the only pending one")
    days: int | None = Field(None, ge=1, le=60, description="approve fewer days than asked")
    reason: Reason | None = None


class ExtensionRefusalPayload(Strict):
    extension_id: Id | None = None
    reason: Reason


class SuspendRequestPayload(Strict):
    """A request to stop the completion clock (挂起) until a date."""

    reason: Reason = Field(description="why (the citizen's documents, a court case, weather)")
    until: date = Field(description="the day the clock runs again (at 00:00 Asia/Shanghai); "
                                    "at most 30 calendar days of suspension in all")


class SuspendDecisionPayload(Strict):
    suspension_id: Id | None = Field(None, description="default: the only pending one")
    until: date | None = Field(None, description="another end date than asked (beyond 30 days "
                                                 "of suspension in all: a supervisor only)")
    reason: Reason | None = None


class SuspendRefusalPayload(Strict):
    suspension_id: Id | None = None
    reason: Reason


class DelegatePayload(Strict):
    """下派: pass the step one holds down one level (a community or village, or a grid worker)."""

    to: Code = Field(description="a community's or village's department code (one whose "
                                 "parent is the delegating department), or a grid worker's "
                                 "username")
    days: int | None = Field(None, ge=1, le=60, description="working days for the completion; "
                                                            "default: the ticket's limit; never "
                                                            "past the step above's deadline")
    reason: Reason | None = None


class DelegatedReviewPayload(Strict):
    """镇审核: the one above accepts what the one below completed."""

    delegation_id: Id | None = Field(None, description="default: the only one awaiting review")
    reason: Reason | None = None


class DelegatedRejectPayload(Strict):
    delegation_id: Id | None = None
    reason: Reason


class DecideLeadPayload(Strict):
    """定责 of a disputed ticket by the hotline office: final, routed to the lead."""

    lead: Code = Field(description="the department that leads (主办)")
    reason: Reason
    unfounded: list[Code] | None = Field(
        None, max_length=20, description="departments whose return is judged unfounded "
        "(each must have returned the ticket); default: the lead, if it returned it")


class SelfHandlePayload(Strict):
    """自办自结 of a patrol report (system path of the patrol intake): the result and the
    photos before and after, already filed to the ticket."""

    result: Text
    before: AttachmentIds
    after: AttachmentIds
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    reason: Reason | None = None


class SupervisePayload(Strict):
    reason: Reason
    days: int | None = Field(None, ge=1, le=60, description="working days; default from settings")


class NotePayload(Evidence):
    text: Text


class CallTransferPayload(Strict):
    """A phone transfer made during a call (一键转接) or a three-party call (三方通话)."""

    kind: Literal["one_key", "three_party"]
    to: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = (
        Field(description="who the call went to: 110, a department code, a phone number"))
    reason: Reason | None = None


class RelocatePayload(Strict):
    """A corrected place for a demand not yet with a department: located and routed again."""

    address: Address | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: Crs = "WGS84"
    reason: Reason | None = None

    _swapped = field_validator("lat", mode="before")(swapped_hint)


class Transfer110Payload(Strict):
    """A transfer to 110: a reason; after 110 rejected the ticket, only a supervisor may send
    it again, with an arbitration (仲裁, 首接 in DOMAIN.md) that then stands as the reason."""

    reason: Reason = Field(description="why it goes to 110 (may be left out when an "
                                       "arbitration is given: the arbitration is the reason)")
    arbitration: Reason | None = Field(
        None, description="supervisor only, after 110 rejected the ticket: why it goes again")

    @model_validator(mode="before")
    @classmethod
    def _reason_or_arbitration(cls, data: Any) -> Any:
        # The arbitration is the reason of the event when no other is given.
        if isinstance(data, dict) and data.get("reason") is None \
                and data.get("arbitration") is not None:
            data = {**data, "reason": data["arbitration"]}
        return data


class AutoDispatchPayload(DispatchPayload):
    """A dispatch by the system on a confident suggestion (智能派单); never sent by a client
    (not in PAYLOADS): the intake pipeline builds it."""

    confidence: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    setting: Code
    source: Code
    reasons: list[Reason] = Field(default_factory=list)


class RaiseAlarmPayload(Strict):
    """The emergency alarm of a demand on an unattended channel (system only)."""

    numbers: list[Code] = Field(default_factory=lambda: ["110"])
    reasons: list[Reason] = Field(default_factory=list)


class PoliceAcceptPayload(Strict):
    incident_no: Code | None = None
    reason: Reason | None = None


class PoliceCompletePayload(Strict):
    result: Text
    reason: Reason | None = None


PAYLOADS: dict[str, type[Strict]] = {
    "answer": AnswerPayload,
    "dispatch": DispatchPayload,
    "transfer_110": Transfer110Payload,
    "merge": MergePayload,
    "void": ReasonRequired,
    "sign": NoPayload,
    "return": ReasonRequired,
    "complete": CompletePayload,
    "review_accept": NoPayload,
    "review_reject": ReasonRequired,
    "callback": CallbackPayload,
    "request_extension": ExtensionRequestPayload,
    "approve_extension": ExtensionDecisionPayload,
    "refuse_extension": ExtensionRefusalPayload,
    "request_suspend": SuspendRequestPayload,
    "approve_suspend": SuspendDecisionPayload,
    "refuse_suspend": SuspendRefusalPayload,
    "resume": NoPayload,
    "urge": NoPayload,
    "supervise": SupervisePayload,
    "note": NotePayload,
    "call_transfer": CallTransferPayload,
    "relocate": RelocatePayload,
    "police_accept": PoliceAcceptPayload,
    "police_reject": ReasonRequired,
    "police_complete": PoliceCompletePayload,
    "close_without_callback": NoPayload,
    "follow_parent": NoPayload,
    "recompute_deadlines": NoPayload,
    "raise_alarm": RaiseAlarmPayload,
    "acknowledge_alarm": NoPayload,
    "escalate_alarm": NoPayload,
    "take_back": NoPayload,
    "delegate": DelegatePayload,
    "review_delegated_accept": DelegatedReviewPayload,
    "review_delegated_reject": DelegatedRejectPayload,
    "decide_lead": DecideLeadPayload,
    "self_handle": SelfHandlePayload,
}


def validation_error(exc: ValidationError) -> InvalidInput:
    """The first pydantic error as an InvalidInput naming its field, in Chinese."""
    field, message = first_error(exc)
    return InvalidInput(message, field=field)


def _integral_floats_refused(exc: ValidationError) -> bool:
    """Whether an integer field was refused a number with a zero fraction (85.0)."""
    return any(e["type"] in ("int_type", "int_from_float") and isinstance(e.get("input"), float)
               and e["input"].is_integer() for e in exc.errors())


def parse(model: type[M], data: Any, *, strict: bool | None = None) -> M:
    """Validate JSON-shaped data (a dict, or raw JSON text) against a schema (`strict`: no
    coercion even where the schema's own configuration would allow it, as for a request
    body: `false` is no number). A number with a zero fraction counts as an integer, as in
    JSON Schema (`"version": 85.0` is 85); "85" and 85.5 stay refused."""
    text = data if isinstance(data, str | bytes) else json.dumps(data, ensure_ascii=False)
    try:
        return model.model_validate_json(text, strict=strict)
    except ValidationError as exc:
        if not _integral_floats_refused(exc):
            raise validation_error(exc) from exc
        first = exc
    try:
        again = json.dumps(json.loads(text, parse_float=_integral_float), ensure_ascii=False)
        return model.model_validate_json(again, strict=strict)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    except ValueError:
        raise validation_error(first) from first
