"""The fixed vocabularies of DOMAIN.md: states, roles, channels, request types, urgencies."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "NEW"
    DISPATCHED = "DISPATCHED"
    SIGNED = "SIGNED"
    RETURNED = "RETURNED"
    COMPLETED = "COMPLETED"
    REVIEWED = "REVIEWED"
    REOPENED = "REOPENED"
    ARCHIVED = "ARCHIVED"
    TRANSFERRED_110 = "TRANSFERRED_110"
    MERGED = "MERGED"
    VOID = "VOID"


CLOSED_STATES = frozenset({Status.ARCHIVED, Status.VOID, Status.MERGED})
OPEN_STATES = frozenset(Status) - CLOSED_STATES


class Role(StrEnum):
    OPERATOR = "operator"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    GRID_WORKER = "grid_worker"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    ADMIN = "admin"
    POLICE_DESK = "police_desk"
    SYSTEM = "system"


HUMAN_ROLES = frozenset(Role) - {Role.SYSTEM, Role.POLICE_DESK}
# Roles that see every ticket (the rest are scoped to their department or assignments).
ALL_SEEING_ROLES = frozenset(
    {Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.SYSTEM}
)


class Channel(StrEnum):
    PHONE = "phone"
    WECHAT = "wechat"
    POLICE110 = "police110"
    WEB = "web"
    OPEN311 = "open311"
    # A grid worker's patrol report (巡查上报, DOMAIN.md "Grid governance").
    PATROL = "patrol"


class RequestType(StrEnum):
    CONSULT = "consult"
    HELP = "help"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    PRAISE = "praise"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class AssignmentStatus(StrEnum):
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    COMPLETED = "completed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class DelegationStatus(StrEnum):
    """A delegated step (下派): with the one below (dispatched, signed, completed awaiting the
    review of the one above), accepted by the one above, returned one level up, cancelled."""

    DISPATCHED = "dispatched"
    SIGNED = "signed"
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    CANCELLED = "cancelled"


OPEN_DELEGATION = frozenset(
    {DelegationStatus.DISPATCHED, DelegationStatus.SIGNED, DelegationStatus.COMPLETED}
)


ACTIVE_ASSIGNMENT = frozenset(
    {AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED, AssignmentStatus.COMPLETED}
)


class ContactKind(StrEnum):
    """What an inbound contact turned out to be."""

    NEW_DEMAND = "new_demand"
    FOLLOW_UP = "follow_up"
    SILENT = "silent"
    PRANK = "prank"
    HANG_UP = "hang_up"
    WRONG_NUMBER = "wrong_number"
    ENQUIRY = "enquiry"


class Outcome(StrEnum):
    """Why an archived ticket was archived."""

    DIRECT_ANSWER = "direct_answer"
    CALLBACK = "callback"
    NO_CALLBACK = "no_callback"
    UNREACHABLE = "unreachable"
    HANDLED_BY_110 = "handled_by_110"
    WITH_PARENT = "with_parent"
