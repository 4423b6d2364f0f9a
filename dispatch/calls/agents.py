"""Agent states (示闲, 示忙, 通话中, 话后处理): the call centre's events move an extension to
通话中 and 话后处理; the operator says 示闲 or 示忙 from the intake page."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from dispatch.calls.events import BUSY, IDLE
from dispatch.calls.models import AgentState
from dispatch.core.actors import Actor
from dispatch.core.commands import Strict, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.models import User


class AgentStateSet(Strict):
    """What an operator says of themself: free (示闲) or busy (示忙)."""

    state: Literal["idle", "busy"]


def set_agent_state(session: Session, actor: Actor, data: object, now: datetime) -> AgentState:
    """Set the actor's own extension 示闲 or 示忙."""
    body = data if isinstance(data, AgentStateSet) else parse(AgentStateSet, data)
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or not user.extension:
        raise InvalidInput("extension: 您的账号没有分机号，请管理员在用户管理中设置",
                           field="extension")
    row = session.get(AgentState, user.extension)
    state = IDLE if body.state == "idle" else BUSY
    if row is None:
        row = AgentState(extension=user.extension, user_id=user.id, state=state, since=now)
        session.add(row)
    else:
        row.state, row.since, row.user_id, row.call_id = state, now, user.id, None
    session.flush()
    return row
