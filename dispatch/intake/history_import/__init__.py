"""Importing an old system's history (`hotline tickets import FILE.csv|FILE.xlsx`).

Every row of the old system's export becomes a ticket in the state the old system left it in,
with the events a ticket in that state would have (intake, dispatch, sign, complete, review,
callback...), each checked against the one transition table, so that the statistics computed
from the event log count the past like the present. The ticket is located in the active grid
(points in bulk) and routed by the dispatch catalogue; the old system's category and department
are translated through the mapping file.

How it goes:
1. `check_rows` reads every row (headings in Chinese, or the old system's own headings named in
   the mapping file) and rejects what cannot be imported, naming the row, the column and why.
   Nothing is written when any row is rejected (all or nothing, one transaction per file).
2. Rows whose old number (原工单编号) was imported before are skipped: a second run of the same
   file changes nothing. The old number is kept in `tickets.import_ref` (unique).
3. The rest are located and routed in bulk and written (tickets, assignments, events) by COPY
   in binary format on PostgreSQL, by batched SQLAlchemy Core inserts elsewhere, numbered by
   their day of intake (the day's counter is moved once per day for the whole file, so live
   intake never shares a number). On PostgreSQL the foreign keys are checked once for the
   file (the departments and categories referred to locked and required to exist) instead of
   by a trigger per row, when the role may do so (`copying.Sink.check_keys_once`).
4. The caller commits, then rebuilds the statistics' rollups (`dispatch.stats.rollups.rebuild`).

Imported tickets reach nothing live: the rows are written with Core inserts, not through the
session's unit of work, so the table of consequences (`dispatch.subscribers`: console feed,
statistics queue, outbox SMS and 110 messages) never sees them, and no alarm is raised. Closed
tickets have closed clocks; an open one (dispatched, signed) gets its sign-for and completion
clocks from its dispatch time under today's time limits, and the steps that fell due before the
import are marked as fired at the import (no retroactive urges or SMS); the later ones fire as
usual.
"""


from __future__ import annotations

from dispatch.intake.history_import.mapping import HistoryGrid, HistoryMapping, parse_mapping
from dispatch.intake.history_import.rows import HistoryReport, check_rows, read_rows
from dispatch.intake.history_import.vocabulary import HEADINGS
from dispatch.intake.history_import.writer import count_imported, import_history

__all__ = ["HEADINGS", "HistoryGrid", "HistoryMapping", "HistoryReport", "check_rows",
           "count_imported", "import_history", "parse_mapping", "read_rows"]
