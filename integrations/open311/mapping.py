"""Our categories and tickets as Open311 services and service requests (plain dicts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.core.vocab import CLOSED_STATES, Status
from dispatch.intake.phones import mask_text

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Void (prank, test) and merged (repeat) tickets are not demands of their own: never listed.
STATUS_NAMES: dict[str, str] = {
    Status.NEW: "待处理", Status.DISPATCHED: "已派单", Status.SIGNED: "已签收",
    Status.RETURNED: "已退单", Status.COMPLETED: "已办结", Status.REVIEWED: "已审核",
    Status.REOPENED: "重办", Status.ARCHIVED: "已归档", Status.TRANSFERRED_110: "已转110",
    Status.MERGED: "已并单", Status.VOID: "已作废",
}
HIDDEN_DESCRIPTION = "（保密诉求，内容不公开）"
MEDIA_NOTE_PREFIX = "Open311 图片链接："
SERVICE_NOTICE = "您的诉求已受理，工单编号 {number}，可凭编号查询办理进度。"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the Asia/Shanghai offset, e.g. 2026-11-23T10:00:00+08:00."""
    if moment is None:
        return None
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def open311_status(status: str) -> str:
    """Open311's two states: a closed ticket is `closed`, every other is `open`."""
    return "closed" if status in CLOSED_STATES else "open"


def services(categories: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The active leaf categories as Open311 services, in tree order."""
    rows = {c["code"]: c for c in categories if c.get("active", True)}
    parents = {c["parent_code"] for c in rows.values() if c.get("parent_code")}

    def path(code: str) -> list[Mapping[str, Any]]:
        chain, seen = [], set()
        node = rows.get(code)
        while node is not None and node["code"] not in seen:
            seen.add(node["code"])
            chain.append(node)
            node = rows.get(node.get("parent_code") or "")
        return chain[::-1]

    out = []
    for code in sorted(rows, key=lambda c: [(rows[p["code"]].get("sort_order") or 0, p["code"])
                                            for p in path(c)]):
        if code in parents:
            continue
        chain = path(code)
        if chain[0].get("parent_code"):  # an orphan under an inactive parent: not offered
            continue
        out.append(service(rows[code], chain))
    return out


def service(category: Mapping[str, Any], chain: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One leaf category (with its path from the top) as an Open311 service."""
    names = [c["name"] for c in chain]
    return {
        "service_code": category["code"], "service_name": category["name"],
        "description": " > ".join(names), "metadata": False, "type": "realtime",
        "keywords": ",".join(names), "group": names[0],
    }


def service_definition(code: str) -> dict[str, Any]:
    """A service's definition: our services ask for no extra attributes."""
    return {"service_code": code, "attributes": []}


def mask_phones(text: str) -> str:
    """Phone and ID-card numbers in free text masked as 138****1234 (descriptions are
    public): the same masker as every other reader's (`dispatch.intake.phones.mask_text`)."""
    return mask_text(text)


def media_note(url: str) -> str:
    """The note that keeps a client's photo link on the ticket's history."""
    return MEDIA_NOTE_PREFIX + url


def media_url_of(notes: Iterable[str]) -> str | None:
    """The photo link kept by `media_note`, if one of these note texts is one."""
    for text in notes:
        if text and text.startswith(MEDIA_NOTE_PREFIX):
            return text[len(MEDIA_NOTE_PREFIX):]
    return None


def service_request(t: Mapping[str, Any]) -> dict[str, Any]:
    """A ticket (its public facts) as an Open311 service request; never the citizen.

    Expects `number`, `status`, `category_code`, `service_name`, `text`, `confidential`,
    `police_matter`, `agency`, `expected`, `created_at`, `updated_at`, `address`, `lon`,
    `lat`, `media_url`. A confidential or police matter shows neither text nor place.
    """
    private = bool(t.get("confidential") or t.get("police_matter"))
    status = t["status"]
    return {
        "service_request_id": str(t["number"]),
        "status": open311_status(status),
        "status_notes": STATUS_NAMES.get(status, status),
        "service_name": t.get("service_name"),
        "service_code": t.get("category_code"),
        "description": HIDDEN_DESCRIPTION if private else mask_phones(t.get("text") or ""),
        "agency_responsible": t.get("agency"),
        "service_notice": None,
        "requested_datetime": iso(t.get("created_at")),
        "updated_datetime": iso(t.get("updated_at")),
        "expected_datetime": iso(t.get("expected")),
        "address": None if private else mask_phones(t.get("address") or "") or None,
        "address_id": None,
        "zipcode": None,
        "lat": None if private else t.get("lat"),
        "long": None if private else t.get("lon"),
        "media_url": None if private else t.get("media_url"),
    }


def created(number: str, notice: str | None = None) -> dict[str, Any]:
    """The answer to a POST: the new request's id and a notice for the citizen (an emergency's
    notice says to call 110 at once: `dispatch.intake.alarms.advice`)."""
    return {"service_request_id": str(number),
            "service_notice": notice or SERVICE_NOTICE.format(number=number), "account_id": None}


def token(number: str) -> dict[str, Any]:
    """A token lookup's answer: requests are created at once, so the token is the number."""
    return {"service_request_id": str(number), "token": str(number)}


def discovery(base_url: str, changeset: datetime, contact: str) -> dict[str, Any]:
    """The discovery document: one production GeoReport v2 endpoint, XML and JSON."""
    return {
        "changeset": iso(changeset), "contact": contact, "key_service": contact,
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": base_url, "changeset": iso(changeset), "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
