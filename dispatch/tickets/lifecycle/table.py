"""The transition table of DOMAIN.md: which action leads from which states to which, for which
roles; `check` refuses anything else."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.core.errors import Conflict, Forbidden, NotFound
from dispatch.core.vocab import (
    OPEN_STATES,
    AssignmentStatus,
    Role,
    Status,
)

S = Status


R = Role


SAME = None  # "state unchanged" in a rule's targets


HANDLING = frozenset({S.DISPATCHED, S.SIGNED})


HANDLING_ASSIGNMENT = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


ASSIGNEES = frozenset({R.HANDLER, R.GRID_WORKER})


@dataclass(frozen=True)
class Rule:
    """One row of the state table: from which states, to which, by which roles."""

    from_states: frozenset[Status]
    to_states: frozenset[Status | None]
    roles: frozenset[Role]


def _rule(frm: set[Status] | frozenset[Status], to: set[Status | None],
          roles: set[Role] | frozenset[Role]) -> Rule:
    return Rule(frozenset(frm), frozenset(to), frozenset(roles))


TABLE: dict[str, Rule] = {
    "answer": _rule({S.NEW}, {S.ARCHIVED}, {R.OPERATOR}),
    "dispatch": _rule({S.NEW, S.RETURNED, S.REOPENED}, {S.DISPATCHED}, {R.DISPATCHER, R.SYSTEM}),
    # A supervisor sends again what 110 rejected, with an arbitration (首接); the system sends
    # an emergency of an unattended channel when `auto_transfer_110` is on.
    "transfer_110": _rule({S.NEW}, {S.TRANSFERRED_110},
                          {R.OPERATOR, R.DISPATCHER, R.SUPERVISOR, R.SYSTEM}),
    "merge": _rule({S.NEW}, {S.MERGED}, {R.DISPATCHER}),
    "void": _rule({S.NEW}, {S.VOID}, {R.OPERATOR, R.DISPATCHER}),
    # Assignee actions: the lead's moves the ticket, a co-handler's only its own assignment.
    "sign": _rule(HANDLING, {S.SIGNED, SAME}, ASSIGNEES),
    "return": _rule(HANDLING, {S.RETURNED, SAME}, ASSIGNEES),
    "complete": _rule(HANDLING, {S.COMPLETED, SAME}, ASSIGNEES),
    "review_accept": _rule({S.COMPLETED}, {S.REVIEWED}, {R.DISPATCHER}),
    "review_reject": _rule({S.COMPLETED}, {S.SIGNED}, {R.DISPATCHER}),
    "callback": _rule({S.REVIEWED}, {S.ARCHIVED, S.REOPENED, SAME}, {R.OPERATOR, R.SYSTEM}),
    "close_without_callback": _rule({S.REVIEWED}, {S.ARCHIVED}, {R.SYSTEM}),
    "request_extension": _rule(HANDLING, {SAME}, ASSIGNEES),
    "approve_extension": _rule(HANDLING, {SAME}, {R.DISPATCHER}),
    "refuse_extension": _rule(HANDLING, {SAME}, {R.DISPATCHER}),
    # 挂起: the completion clock stopped until a date; beyond 30 days in all a supervisor
    # approves. The sweep resumes at the end date (from any open state: a co-handler's clock
    # may stand while the lead completes).
    "request_suspend": _rule(HANDLING, {SAME}, ASSIGNEES),
    "approve_suspend": _rule(HANDLING, {SAME}, {R.DISPATCHER, R.SUPERVISOR}),
    "refuse_suspend": _rule(HANDLING, {SAME}, {R.DISPATCHER, R.SUPERVISOR}),
    "resume": _rule(OPEN_STATES, {SAME}, ASSIGNEES | {R.SYSTEM}),
    "urge": _rule(OPEN_STATES, {SAME}, {R.SUPERVISOR, R.DISPATCHER, R.SYSTEM}),
    "supervise": _rule(OPEN_STATES, {SAME}, {R.SUPERVISOR, R.DISPATCHER, R.SYSTEM}),
    "note": _rule(OPEN_STATES, {SAME}, set(Role)),
    # 一键转接 / 三方通话 during the call: logged on the ticket, the state stays.
    "call_transfer": _rule(OPEN_STATES, {SAME}, {R.OPERATOR, R.DISPATCHER}),
    "relocate": _rule({S.NEW, S.RETURNED, S.REOPENED}, {SAME},
                      {R.OPERATOR, R.DISPATCHER, R.SYSTEM}),
    "police_accept": _rule({S.TRANSFERRED_110}, {SAME}, {R.POLICE_DESK}),
    "police_reject": _rule({S.TRANSFERRED_110}, {S.NEW}, {R.POLICE_DESK}),
    "police_complete": _rule({S.TRANSFERRED_110}, {S.ARCHIVED}, {R.POLICE_DESK}),
    "follow_parent": _rule({S.MERGED}, {S.ARCHIVED}, {R.SYSTEM}),
    "recompute_deadlines": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    # The emergency alarm of an unattended channel (DOMAIN.md, Triage): raised at intake,
    # acknowledged by a dispatcher, escalated to supervisors by the sweep when not
    # acknowledged in time.
    "raise_alarm": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    "acknowledge_alarm": _rule(OPEN_STATES, {SAME}, {R.DISPATCHER, R.SUPERVISOR}),
    "escalate_alarm": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    # 智能派单 taken back to the dispatcher's queue.
    "take_back": _rule(HANDLING, {S.NEW}, {R.DISPATCHER}),
    # 层级派单 (lifecycle/delegation.py): the holder of a signed step passes it one level down;
    # the one below signs for, returns and completes it with `sign`, `return`, `complete`;
    # the one above reviews, and the accepted review of the top step completes the assignment.
    "delegate": _rule(HANDLING, {SAME}, {R.HANDLER}),
    "review_delegated_accept": _rule(HANDLING, {S.COMPLETED, SAME}, {R.HANDLER}),
    "review_delegated_reject": _rule(HANDLING, {SAME}, {R.HANDLER}),
    # 自办自结 of a grid worker's patrol report (lifecycle/patrol.py), taken by the patrol
    # intake: the street office's assignment with the worker's step completed, for its review.
    "self_handle": _rule({S.NEW}, {S.SIGNED}, {R.GRID_WORKER}),
    # 会商定责 (lifecycle/dispute.py): the hotline office decides the lead of a disputed ticket.
    "decide_lead": _rule({S.RETURNED}, {S.DISPATCHED}, {R.DISPATCHER, R.SUPERVISOR}),
}


SYSTEM_ACTIONS = frozenset({"close_without_callback", "follow_parent", "recompute_deadlines",
                            "raise_alarm", "escalate_alarm", "self_handle"})


# Actions people and machine clients may ask for; the rest are taken by the system itself.
PUBLIC_ACTIONS = tuple(a for a in TABLE if a not in SYSTEM_ACTIONS)


def check(rule_action: str, status: Status, role: Role) -> None:
    """Refuse an action not in the table, not for this role, or not from this state."""
    rule = TABLE.get(rule_action)
    if rule is None:
        raise NotFound(f"action: 没有“{rule_action}”这个操作", field="action")
    if role not in rule.roles:
        raise Forbidden("角色“{role}”无权执行“{action}”操作",
                        terms={"role": ("role", role), "action": ("action", rule_action)})
    if status not in rule.from_states:
        raise Conflict("工单当前状态为“{status}”，不能执行“{action}”操作",
                       terms={"status": ("status", status), "action": ("action", rule_action)})


# What an assignee's own assignment must be in for each of their actions.
ASSIGNEE_ACTIONS: dict[str, tuple[str, ...]] = {
    "sign": (AssignmentStatus.DISPATCHED,),
    "return": HANDLING_ASSIGNMENT,
    "complete": (AssignmentStatus.SIGNED,),
    "request_extension": HANDLING_ASSIGNMENT,
    "request_suspend": (AssignmentStatus.SIGNED,),
    "resume": (AssignmentStatus.SIGNED,),
}
