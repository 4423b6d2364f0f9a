"""The transition table against DOMAIN.md's state table, for every (state, action, role).

EXPECTED below is written by hand from DOMAIN.md ("Ticket states"), not derived from
`dispatch.tickets.lifecycle.TABLE`: a change to either side makes these tests fail.
"""

from __future__ import annotations

import pytest

from dispatch.core.commands import PAYLOADS
from dispatch.core.errors import Conflict, Forbidden, NotFound
from dispatch.core.vocab import Role, Status
from dispatch.tickets.lifecycle import HANDLERS, PUBLIC_ACTIONS, TABLE, check

S = Status
R = Role
SAME = None  # the ticket keeps its state

ALL_STATES = frozenset({
    S.NEW, S.DISPATCHED, S.SIGNED, S.RETURNED, S.COMPLETED, S.REVIEWED, S.REOPENED,
    S.ARCHIVED, S.TRANSFERRED_110, S.MERGED, S.VOID,
})
# "any open state": everything but the three final states.
OPEN = ALL_STATES - {S.ARCHIVED, S.VOID, S.MERGED}
# Assignee actions: co-handlers act while the lead's ticket is DISPATCHED or SIGNED.
HANDLING = frozenset({S.DISPATCHED, S.SIGNED})
ASSIGNEES = frozenset({R.HANDLER, R.GRID_WORKER})
EVERYONE = frozenset({
    R.OPERATOR, R.DISPATCHER, R.HANDLER, R.GRID_WORKER, R.SUPERVISOR, R.LEADER, R.ADMIN,
    R.POLICE_DESK, R.SYSTEM,
})
# action: (from states, to states, roles)
EXPECTED: dict[str, tuple[frozenset, frozenset, frozenset]] = {
    "answer": (frozenset({S.NEW}), frozenset({S.ARCHIVED}), frozenset({R.OPERATOR})),
    "dispatch": (frozenset({S.NEW, S.RETURNED, S.REOPENED}), frozenset({S.DISPATCHED}),
                 frozenset({R.DISPATCHER, R.SYSTEM})),
    # 首接: a supervisor sends again what 110 rejected, with an arbitration; the system sends
    # an emergency of an unattended channel when auto_transfer_110 is on (DOMAIN.md, Triage).
    "transfer_110": (frozenset({S.NEW}), frozenset({S.TRANSFERRED_110}),
                     frozenset({R.OPERATOR, R.DISPATCHER, R.SUPERVISOR, R.SYSTEM})),
    "merge": (frozenset({S.NEW}), frozenset({S.MERGED}), frozenset({R.DISPATCHER})),
    "void": (frozenset({S.NEW}), frozenset({S.VOID}), frozenset({R.OPERATOR, R.DISPATCHER})),
    # The lead's move changes the ticket; a co-handler's leaves it as it is.
    "sign": (HANDLING, frozenset({S.SIGNED, SAME}), ASSIGNEES),
    "return": (HANDLING, frozenset({S.RETURNED, SAME}), ASSIGNEES),
    "complete": (HANDLING, frozenset({S.COMPLETED, SAME}), ASSIGNEES),
    "review_accept": (frozenset({S.COMPLETED}), frozenset({S.REVIEWED}),
                      frozenset({R.DISPATCHER})),
    "review_reject": (frozenset({S.COMPLETED}), frozenset({S.SIGNED}), frozenset({R.DISPATCHER})),
    # Satisfied and resolved → ARCHIVED; dissatisfied or unresolved → REOPENED; not reached
    # (fewer than 3 tries) → unchanged; the questionnaire is the system.
    "callback": (frozenset({S.REVIEWED}), frozenset({S.ARCHIVED, S.REOPENED, SAME}),
                 frozenset({R.OPERATOR, R.SYSTEM})),
    # No callback needed (anonymous): the system archives at once after review.
    "close_without_callback": (frozenset({S.REVIEWED}), frozenset({S.ARCHIVED}),
                               frozenset({R.SYSTEM})),
    "request_extension": (HANDLING, frozenset({SAME}), ASSIGNEES),
    "approve_extension": (HANDLING, frozenset({SAME}), frozenset({R.DISPATCHER})),
    "refuse_extension": (HANDLING, frozenset({SAME}), frozenset({R.DISPATCHER})),
    # 挂起 (DOMAIN.md, Grid governance): an assignee asks, a dispatcher (a supervisor beyond 30
    # days in all) decides; the assignee or the sweep at the end date resumes, the latter
    # from any open state (a co-handler's clock may stand while the lead completes).
    "request_suspend": (HANDLING, frozenset({SAME}), ASSIGNEES),
    "approve_suspend": (HANDLING, frozenset({SAME}), frozenset({R.DISPATCHER, R.SUPERVISOR})),
    "refuse_suspend": (HANDLING, frozenset({SAME}), frozenset({R.DISPATCHER, R.SUPERVISOR})),
    "resume": (OPEN, frozenset({SAME}), ASSIGNEES | {R.SYSTEM}),
    "urge": (OPEN, frozenset({SAME}), frozenset({R.SUPERVISOR, R.DISPATCHER, R.SYSTEM})),
    "supervise": (OPEN, frozenset({SAME}), frozenset({R.SUPERVISOR, R.DISPATCHER, R.SYSTEM})),
    "note": (OPEN, frozenset({SAME}), EVERYONE),
    # One-key transfer and three-party calls are logged as events (DOMAIN.md, 12345 ↔ 110).
    "call_transfer": (OPEN, frozenset({SAME}), frozenset({R.OPERATOR, R.DISPATCHER})),
    # A corrected place, located and routed again, while no department holds the ticket.
    "relocate": (frozenset({S.NEW, S.RETURNED, S.REOPENED}), frozenset({SAME}),
                 frozenset({R.OPERATOR, R.DISPATCHER, R.SYSTEM})),
    "police_accept": (frozenset({S.TRANSFERRED_110}), frozenset({SAME}),
                      frozenset({R.POLICE_DESK})),
    "police_reject": (frozenset({S.TRANSFERRED_110}), frozenset({S.NEW}),
                      frozenset({R.POLICE_DESK})),
    "police_complete": (frozenset({S.TRANSFERRED_110}), frozenset({S.ARCHIVED}),
                        frozenset({R.POLICE_DESK})),
    # A merged child is archived with its parent.
    "follow_parent": (frozenset({S.MERGED}), frozenset({S.ARCHIVED}), frozenset({R.SYSTEM})),
    # After the calendar changes, open deadlines are recomputed by the system.
    "recompute_deadlines": (OPEN, frozenset({SAME}), frozenset({R.SYSTEM})),
    # The alarm of an emergency on an unattended channel: raised at intake, acknowledged by a
    # dispatcher within 60 s, else escalated to supervisors.
    "raise_alarm": (OPEN, frozenset({SAME}), frozenset({R.SYSTEM})),
    "acknowledge_alarm": (OPEN, frozenset({SAME}), frozenset({R.DISPATCHER, R.SUPERVISOR})),
    "escalate_alarm": (OPEN, frozenset({SAME}), frozenset({R.SYSTEM})),
    # 智能派单 taken back to the dispatcher's queue.
    "take_back": (HANDLING, frozenset({S.NEW}), frozenset({R.DISPATCHER})),
    # 层级派单 (DOMAIN.md, Grid governance): the street office (or a community) holding a signed
    # step passes it down; it reviews what comes back, and only the top step's accepted review
    # completes the assignment (the ticket moves when that is the lead's).
    "delegate": (HANDLING, frozenset({SAME}), frozenset({R.HANDLER})),
    "review_delegated_accept": (HANDLING, frozenset({S.COMPLETED, SAME}),
                                frozenset({R.HANDLER})),
    "review_delegated_reject": (HANDLING, frozenset({SAME}), frozenset({R.HANDLER})),
    # 自办自结: a grid worker's patrol report handled on the spot, recorded by the patrol intake
    # (not an action a client asks for) as the worker's completed step awaiting review.
    "self_handle": (frozenset({S.NEW}), frozenset({S.SIGNED}), frozenset({R.GRID_WORKER})),
    # 会商定责: the hotline office decides the lead of a ticket returned twice or by two
    # departments, and it goes out to that lead.
    "decide_lead": (frozenset({S.RETURNED}), frozenset({S.DISPATCHED}),
                    frozenset({R.DISPATCHER, R.SUPERVISOR})),
}
SYSTEM_ONLY = {"close_without_callback", "follow_parent", "recompute_deadlines",
               "raise_alarm", "escalate_alarm", "self_handle"}

ACTIONS = sorted(set(TABLE) | set(EXPECTED))
STATES = sorted(ALL_STATES)


def test_every_status_of_the_vocabulary_is_in_the_expected_table() -> None:
    assert set(Status) == ALL_STATES
    assert set(Role) == EVERYONE


def test_the_table_has_exactly_the_actions_of_the_state_table() -> None:
    assert sorted(TABLE) == sorted(EXPECTED)


@pytest.mark.parametrize("action", ACTIONS)
def test_rule_matches_the_state_table(action: str) -> None:
    assert action in TABLE, f"{action} is missing from lifecycle.TABLE"
    assert action in EXPECTED, f"{action} is in lifecycle.TABLE but not in DOMAIN.md"
    frm, to, roles = EXPECTED[action]
    rule = TABLE[action]
    assert set(rule.from_states) == set(frm)
    assert set(rule.to_states) == set(to)
    assert set(rule.roles) == set(roles)


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_allowed_roles_pass_from_the_listed_states_and_get_conflict_elsewhere(
    action: str, status: Status
) -> None:
    assert action in EXPECTED and action in TABLE
    frm, _, roles = EXPECTED[action]
    for role in sorted(roles):
        if status in frm:
            check(action, status, role)  # no exception: allowed
        else:
            with pytest.raises(Conflict) as refused:
                check(action, status, role)
            assert action in refused.value.message
            assert str(status) in refused.value.message


@pytest.mark.parametrize("action", ACTIONS)
def test_roles_not_listed_are_forbidden_in_every_state(action: str) -> None:
    assert action in EXPECTED and action in TABLE
    _, _, roles = EXPECTED[action]
    refused_roles = sorted(EVERYONE - roles)
    for role in refused_roles:
        for status in STATES:
            with pytest.raises(Forbidden) as refused:
                check(action, status, role)
            assert not isinstance(refused.value, Conflict)
            assert str(role) in refused.value.message


def test_forbidden_is_not_a_conflict_so_the_web_layer_can_answer_403_not_409() -> None:
    assert not issubclass(Forbidden, Conflict)
    assert not issubclass(Conflict, Forbidden)


@pytest.mark.parametrize("action", ["", "delete", "SIGN", "reopen", "archive"])
def test_an_unknown_action_is_not_found_naming_the_action_field(action: str) -> None:
    with pytest.raises(NotFound) as refused:
        check(action, S.NEW, R.DISPATCHER)
    assert refused.value.field == "action"


@pytest.mark.parametrize("status", [S.ARCHIVED, S.VOID])
def test_a_final_state_admits_no_action_from_anyone(status: Status) -> None:
    for action in ACTIONS:
        for role in TABLE[action].roles:
            with pytest.raises(Conflict):
                check(action, status, role)


def test_a_merged_ticket_only_follows_its_parent() -> None:
    allowed = [a for a in ACTIONS if S.MERGED in TABLE[a].from_states]
    assert allowed == ["follow_parent"]


def test_system_only_actions_are_not_offered_to_clients() -> None:
    assert set(PUBLIC_ACTIONS) == set(EXPECTED) - SYSTEM_ONLY


def test_every_public_action_has_a_payload_schema_and_a_handler() -> None:
    assert set(PUBLIC_ACTIONS) <= set(PAYLOADS)
    assert set(PUBLIC_ACTIONS) <= set(HANDLERS)
