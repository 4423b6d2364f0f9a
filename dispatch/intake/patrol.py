"""Patrol reports (巡查上报, DOMAIN.md "Grid governance"): what a grid worker finds on patrol,
logged through `POST /api/v1/tickets` with the channel `patrol`: photos (ids of photos
uploaded beforehand, `POST /api/v1/attachments`) and the place (lon/lat) are required. A small
matter fixed on the spot (`self_handled`: 自办自结, the result and photos before and after) is
completed at once and goes to the street office's review; anything else goes up for dispatch
like any demand. `log_demand` is the one entry of the intake endpoint: an operator's demand
(with its call) or a grid worker's patrol report."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from dispatch.calls.intake import CallIntake, intake_call
from dispatch.core.actors import Actor
from dispatch.core.commands import (
    AttachmentIds,
    CitizenIn,
    SelfHandlePayload,
    Strict,
    Text,
    TicketCreate,
    parse,
)
from dispatch.core.errors import Forbidden, InvalidInput
from dispatch.core.ports import IntakePorts
from dispatch.core.vocab import Channel, Role
from dispatch.intake.pipeline import IntakeResult, intake
from dispatch.tickets import attachments
from dispatch.tickets.lifecycle import perform


class SelfHandled(Strict):
    """自办自结: what the worker did on the spot, with photos before and after."""

    result: Text
    before: AttachmentIds = Field(default_factory=list)
    after: AttachmentIds = Field(default_factory=list)


class TicketIntake(CallIntake):
    """The intake form: an operator's demand (with its call), or a grid worker's patrol report
    (`channel` patrol, `attachments` and `lon`/`lat` required, `self_handled` optional)."""

    attachments: AttachmentIds = Field(default_factory=list, description=(
        "patrol reports: ids of the photos taken on site (POST /api/v1/attachments)"))
    self_handled: SelfHandled | None = Field(None, description=(
        "patrol reports: 自办自结 — fixed on the spot: the result and photos before/after"))


PATROL_ONLY = ("attachments", "self_handled")


def log_demand(session: Session, data: TicketIntake | dict[str, Any], actor: Actor, *,
               now: datetime, ports: IntakePorts | None = None) -> IntakeResult:
    """Log a demand: a grid worker's patrol report, or an operator's demand."""
    cmd = data if isinstance(data, TicketIntake) else parse(TicketIntake, data)
    if actor.role == Role.GRID_WORKER or cmd.channel == Channel.PATROL:
        return report_patrol(session, cmd, actor, now=now, ports=ports)
    for name in PATROL_ONLY:
        if name in cmd.model_fields_set:
            raise InvalidInput(f"{name}: 只有网格员的巡查上报才能填写", field=name)
    return intake_call(session, cmd, actor, now=now, ports=ports)  # a CallIntake too


def report_patrol(session: Session, cmd: TicketIntake, actor: Actor, *, now: datetime,
                  ports: IntakePorts | None = None) -> IntakeResult:
    """A grid worker's patrol report; refused (nothing written) without photos or place."""
    if actor.role != Role.GRID_WORKER:
        raise Forbidden("channel: 巡查上报只能由网格员提交", field="channel")
    if cmd.channel != Channel.PATROL:
        raise InvalidInput("channel: 网格员只能提交巡查上报（channel 为 patrol）",
                           field="channel")
    if cmd.call_id is not None:
        raise InvalidInput("call_id: 巡查上报没有通话编号", field="call_id")
    if not cmd.attachments:
        raise InvalidInput("attachments: 巡查上报须附至少一张现场照片", field="attachments")
    for name in ("lon", "lat"):
        if getattr(cmd, name) is None:
            raise InvalidInput(f"{name}: 巡查上报须带现场定位（经度和纬度）", field=name)
    attachments.check_unfiled(session, actor, list(cmd.attachments), "attachments")
    done = cmd.self_handled
    if done is not None:
        for name in ("before", "after"):
            ids = list(getattr(done, name))
            if not ids:
                raise InvalidInput(f"self_handled.{name}: 自办自结须附处理"
                                   f"{'前' if name == 'before' else '后'}的照片",
                                   field=f"self_handled.{name}")
            attachments.check_unfiled(session, actor, ids, f"self_handled.{name}")
        every = [*cmd.attachments, *done.before, *done.after]
        if len(set(every)) != len(every):
            raise InvalidInput("self_handled: 同一张照片不能既是现场照片又是处理前后照片",
                               field="self_handled")
    ports = ports or IntakePorts()
    # The worker is the reporter: no citizen to call back; a self-handled matter is not for
    # automatic dispatch.
    demand = TicketCreate(
        channel=Channel.PATROL, text=cmd.text, citizen=CitizenIn(anonymous=True),
        address=cmd.address, lon=cmd.lon, lat=cmd.lat, crs=cmd.crs, type=cmd.type,
        category=cmd.category, urgency=cmd.urgency, police_matter=cmd.police_matter)
    result = intake(session, demand, actor, now=now,
                    ports=replace(ports, respond=ports.respond and done is None))
    ticket = result.ticket
    attachments.file_unfiled(session, ticket, list(cmd.attachments), event_id=result.event.id)
    result.event.payload = {**result.event.payload, "attachments": list(cmd.attachments),
                            "reported_from": {"lon": cmd.lon, "lat": cmd.lat,
                                              "crs": cmd.crs},
                            "self_handled": done is not None}
    if done is None:
        return result
    if ports.directory is None:  # a wiring error, never the worker's
        raise RuntimeError("the patrol intake needs the department directory")
    attachments.file_unfiled(session, ticket, [*done.before, *done.after])
    session.flush()
    wgs84 = cmd.crs in ("WGS84", "CGCS2000")  # the photos' place as reported, when WGS-84
    handled = perform(session, ticket, "self_handle", actor, SelfHandlePayload(
        result=done.result, before=done.before, after=done.after,
        lon=cmd.lon if wgs84 else None, lat=cmd.lat if wgs84 else None),
        now=now, directory=ports.directory)
    return replace(result, events=(*result.events, *handled.events))
