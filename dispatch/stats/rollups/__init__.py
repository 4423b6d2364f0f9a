"""Facts and daily rollups of the leadership metrics (`dispatch.stats.metrics`), kept current from
the ticket events, so that figures over years read a few thousand rows instead of the event log.

Facts, one row per unit (each holds its dimensions and what the metrics count of it):
- `stat_tickets`: a ticket (created day, void, direct answer, repeat; first dispatch day,
  completed, reopened, auto-dispatched and whether that stood; the alarm's day, moment and
  state: on_time, late, open; department = its latest lead department);
- `stat_assignments`: an assignment (dispatch day, returned, extended; for the sign-for and
  the completion clock: the deadline, its day and how the clock ended: on_time, late, open,
  or NULL when it stopped before its deadline);
- `stat_reviews`: an accepted review (callback needed, concluded) and the callback that
  concluded it (the answer's day, satisfied, resolved).
Facts hold no `now`: a clock still running is `open`, and whether it was missed is decided when
the figures are read (its deadline's day before today: missed; today: the fact's deadline says);
an alarm not acknowledged is `open`, counted from the facts once its 60 s are up.

`stat_daily` sums the facts' counts by local day in several *slices*: the whole key (day ×
channel × type × category × department × street × cell) and smaller ones that the usual
questions read fast (totals; by channel, type, category, department, street; street × cell;
the pairs of dimensions the dashboard asks, a filter and a grouping or two filters: `SLICES`).
Each slice has daily rows and monthly rows (slice name + "/m", dated the month's first day).

The modules, in the order a change travels:

- `tables`: the tables above, their counters and slices;
- `changes`: which tickets must be recomputed (`record_events`, called by the table of
  consequences before a commit with the transaction's ticket events; `mark_changed` for bulk
  writers);
- `facts`: a ticket's facts (`compute_facts`) and what they add to stat_daily (`contributions`);
- `refresh`: takes the pending tickets in batches under the one lock row `stat_head`,
  recomputes their facts and adds the difference to stat_daily (the workers, the embedded
  runner and each statistics request call it);
- `rebuild`: everything from scratch in set-based SQL (`hotline stats rebuild`), the facts by
  the queries of `fact_queries`;
- `read`: the figures from stat_daily and the facts (`ROLLUPS`, the metrics' default source).
"""

from dispatch.stats.rollups.changes import (
    IDLE_ACTIONS,
    mark_changed,
    record_events,
)
from dispatch.stats.rollups.facts import FactSet, compute_facts, contributions, facts_of
from dispatch.stats.rollups.read import (
    ROLLUPS,
    RollupSource,
    month_split,
    slice_for,
    slice_rows,
)
from dispatch.stats.rollups.rebuild import rebuild
from dispatch.stats.rollups.refresh import RefreshReport, pending_count, refresh
from dispatch.stats.rollups.tables import (
    COUNTERS,
    MONTHLY,
    SLICES,
    StatAssignment,
    StatHead,
    StatPending,
    StatReview,
    StatTicket,
    stat_daily,
)

__all__ = [
    "StatTicket",
    "StatAssignment",
    "StatReview",
    "StatPending",
    "StatHead",
    "stat_daily",
    "SLICES",
    "MONTHLY",
    "COUNTERS",
    "IDLE_ACTIONS",
    "FactSet",
    "RefreshReport",
    "ROLLUPS",
    "RollupSource",
    "record_events",
    "mark_changed",
    "refresh",
    "rebuild",
    "pending_count",
    "compute_facts",
    "contributions",
    "facts_of",
    "slice_for",
    "slice_rows",
    "month_split",
]
