"""A realistic synthetic history (`hotline simulate`), made through the domain itself.

Every ticket comes in through `pipeline.intake` (with the county's grid routing), every change
goes through `lifecycle.perform` as the user whose job it is (operators, dispatchers, the
departments' handlers, the cells' grid workers, the 110 desk, the system), follow-up calls
through `contacts.log_contact`, the contacts that make no ticket through `contacts.log_contacts`
(each checked as `log_contact` checks it, written in one INSERT with their batch), SMS and
WeChat callback answers through `callbacks.record_citizen_answer`, and the production clock
sweep (`sweeps.sweep_clocks`) runs at the simulated time, so urges, overdue marks and
supervision happen as they do in production. The event log is therefore real: every figure
computed from it is a figure of this history.

The simulation is event-driven: a heap of (time, sequence, what) on a `ManualClock`; each
ticket's story is a generator that performs its next action and says when the one after is due.
Nothing sleeps. The sweep runs at the ticks of its period (`sweep_minutes`) at which a clock of
the history can step (known from the deadlines each dispatch sets) and after every local
midnight (supervision), not at every idle tick; it runs in a session of its own on the batch's
connection (its commits are savepoints: it sees the batch, and the batch goes on) and only the
tickets it touched are read again. Work is committed in batches (every `commit_every` actions
and at every local midnight, when the day's console events are numbered), so reference data is
read, and a ticket locked, once per batch; every `maintain_every` actions, at a midnight, the
tables it churns are vacuumed and analysed (PostgreSQL), so that a year's dead row versions do
not slow it down. One `random.Random(seed)` draws everything in a fixed order, so the same seed
on the same database gives the same history.

Nothing of the past reaches the outside or a live console: what the history owed (SMS
questionnaires and notices, 110 messages) is marked delivered in the transaction that owed it,
and the console events are numbered daily. A refused action is a bug of the simulation: the run
stops with `SimulationError`, its open batch is rolled back by the caller and the batches
committed before are a consistent, shorter history.

What is drawn, and from which stated distribution, is the `Parameters` dataclass
(`dispatch.simulation.parameters`); the presets are `seed_county` (a year of the seed county:
about 545,000 contacts and 58,000 tickets, with 办结率 ≈ 92 %, 回访率 ≈ 100 %, 满意率 ≈ 98 %),
`small` (a week, for tests and demos) and `recent` (the five weeks `make run` ends now, with a
finale: a hotspot forming over the last 80 minutes and a transfer to 110 left unanswered).
The grid comes in through ports: `Places` (points inside the county's cells, by street) and the
intake ports (locator and router); the package imports nothing outside `dispatch/`.

The package, from the ground up: `parameters` (what is drawn), `world` (the county: places,
staff, categories), `words` (what citizens and staff say; the draws), `report` (what a run
made, from the database), `clockwork` (the heap, batches, sweeps, `act`), then one layer each
of `Simulation`: `aftercare` (waits, staff on duty, the callback after review), `dispatching`
(who gets the work), `handling` (the work from signing to completion, passing down, co-handlers),
`stories` (each ticket's life after intake), `governance` (patrol reports, the month's
assessment and appeals), `arrivals` (the day's demands and other contacts) and `finale` (what
the period ends on); here the run's report.
"""

from __future__ import annotations

from dispatch.simulation.finale import Finale
from dispatch.simulation.report import SimulationReport, summarise


class Simulation(Finale):
    """One run: `Simulation(...).run()` makes the history and returns its report."""

    def report(self, wall_seconds: float) -> SimulationReport:
        """Count what this run made, from the database."""
        return summarise(
            self.session,
            self._first_ticket,
            self._first_contact,
            preset=self.p.name,
            seed=self.seed,
            scale=self.scale,
            start=self.start,
            end=self.end,
            wall_seconds=wall_seconds,
            counters=self.counters,
        )


__all__ = ["Simulation"]
