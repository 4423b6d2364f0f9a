"""主动发现量 and 自办率 (DOMAIN.md "More metrics"): patrol reports of grid workers created in
the period, and the share handled on the spot; the rollups and the raw event log agree, and
a patrol report refused for want of a photo writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from dispatch import subscribers
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Ticket
from dispatch.core.ports import IntakePorts
from dispatch.intake.patrol import log_demand
from dispatch.stats import rollups
from dispatch.stats.metrics import RAW, DateRange, Filters, summary
from dispatch.tickets.attachments import Attachment

PLACE = {"lon": 114.69, "lat": 35.21}


def photos(desk, n: int) -> list[int]:
    """Photos worker1 took on patrol (rows only: the files are not read here)."""
    rows = [Attachment(ticket_id=None, uploaded_by_id=desk.uid("worker1"),
                       content_type="image/jpeg", size=10, sha256="0" * 64,
                       storage_key="00/" + "0" * 64 + ".jpg", width=1, height=1,
                       created_at=desk.clock.now()) for _ in range(n)]
    desk.session.add_all(rows)
    desk.session.flush()
    return [r.id for r in rows]


def report(desk, **fields):
    ports = IntakePorts(directory=desk.directory)
    body = {"channel": "patrol", "text": "路面坑洼", "category": "urban", "type": "report",
            **PLACE, **fields}
    r = log_demand(desk.session, body, desk.actors["worker1"], now=desk.clock.now(),
                   ports=ports)
    desk.session.commit()
    return r.ticket


def test_patrol_reports_and_the_self_handled_rate_raw_and_rolled_up(desk):
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        report(desk, attachments=photos(desk, 1))
        before, after = photos(desk, 1), photos(desk, 1)
        done = report(desk, attachments=photos(desk, 1),
                      self_handled={"result": "已填补", "before": before, "after": after})
        assert done.status == "SIGNED"
        desk.intake()  # an operator's demand: not a patrol report
        span, now = DateRange(date(2026, 11, 23), date(2026, 11, 23)), desk.clock.now()
        rollups.refresh(desk.session)
        rolled = summary(desk.session, span, Filters(), now)
        raw = summary(desk.session, span, Filters(), now, source=RAW)
        assert rolled.tally == raw.tally
        assert rolled.figures["patrol_reports"].numerator == 2
        rate = rolled.figures["self_handled_rate"]
        assert (rate.numerator, rate.denominator, rate.rate) == (1, 2, 0.5)
        assert rolled.figures["intake"].numerator == 3
        # The set-based rebuild gives the same rows as the incremental refresh did.
        from tests.service.test_rollups import assert_rebuild_gives_the_same_rows

        assert_rebuild_gives_the_same_rows(desk.session, 3)
        assert summary(desk.session, span, Filters(), now).tally == raw.tally
    finally:
        if not was:
            subscribers.pause("statistics")


def test_a_report_without_a_photo_writes_nothing(desk):
    tickets = desk.count(Ticket)
    with pytest.raises(InvalidInput) as caught:
        report(desk, attachments=[])
    desk.session.rollback()
    assert caught.value.field == "attachments" and "照片" in caught.value.message
    assert desk.count(Ticket) == tickets
    assert desk.session.scalar(select(func.count()).select_from(Attachment)) == 0
