// Reading tickets: whose assignment, which clock runs, status groups, the console board's order.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  boardOrder, clockOf, leadAssignment, myAssignment, STATUS_GROUPS, statusGroup,
} from "../../web/static/js/lib/tickets.js";

const assignments = [
  { id: 1, role: "lead", department: "urban", status: "returned" },
  { id: 2, role: "co", department: "water", status: "completed", grid_worker: "wang" },
  { id: 3, role: "lead", department: "roads", status: "signed", grid_worker: "li",
    complete_deadline: "2026-03-05T15:59:59Z", complete_warn_at: "2026-03-05T07:59:59Z" },
  { id: 4, role: "co", department: "water", status: "dispatched",
    sign_deadline: "2026-03-03T08:00:00Z", sign_warn_at: "2026-03-03T06:00:00Z" },
];
const ticket = { assignments };

test("a handler's assignment is their department's open one before a completed one", () => {
  assert.equal(myAssignment(ticket, { role: "handler", department: "water" }).id, 4);
});

test("a grid worker's assignment is the one naming them", () => {
  assert.equal(myAssignment(ticket, { role: "grid_worker", username: "li" }).id, 3);
  assert.equal(myAssignment(ticket, { role: "grid_worker", username: "zhao" }), null);
});

test("among closed assignments the newest counts", () => {
  const t = { assignments: [
    { id: 5, department: "urban", status: "returned" },
    { id: 9, department: "urban", status: "returned" },
  ] };
  assert.equal(myAssignment(t, { role: "handler", department: "urban" }).id, 9);
});

test("the lead of the current round is the open lead, else the last one", () => {
  assert.equal(leadAssignment(ticket).id, 3);
  assert.equal(leadAssignment({ assignments: assignments.slice(0, 2) }).id, 1);
  assert.equal(leadAssignment({}), null);
});

test("a dispatched assignment runs the sign-for clock, a signed one the completion clock", () => {
  assert.deepEqual(clockOf(assignments[3]),
    { kind: "sign", deadline: "2026-03-03T08:00:00Z", warnAt: "2026-03-03T06:00:00Z" });
  assert.deepEqual(clockOf(assignments[2]),
    { kind: "complete", deadline: "2026-03-05T15:59:59Z", warnAt: "2026-03-05T07:59:59Z" });
  assert.equal(clockOf(assignments[1]), null);
  assert.equal(clockOf(null), null);
});

test("a suspended completion clock carries its end date for the countdown (已挂起)", () => {
  const suspended = { ...assignments[2], suspended_until: "2026-03-09T16:00:00Z" };
  assert.equal(clockOf(suspended).suspendedUntil, "2026-03-09T16:00:00Z");
  assert.equal(clockOf(suspended).kind, "complete");
  assert.equal("suspendedUntil" in clockOf({ ...assignments[2], suspended_until: null }), false);
});

test("every open status has one marker group; closed ones are 'other'", () => {
  const grouped = STATUS_GROUPS.flatMap(([, statuses]) => statuses);
  assert.equal(new Set(grouped).size, grouped.length);
  assert.equal(statusGroup("NEW"), "new");
  assert.equal(statusGroup("REOPENED"), "returned");
  assert.equal(statusGroup("SIGNED"), "handling");
  assert.equal(statusGroup("TRANSFERRED_110"), "police");
  assert.equal(statusGroup("ARCHIVED"), "other");
});

test("the board puts the most urgent first, then the overdue, then the nearest deadline", () => {
  const rows = [
    { number: "a", urgency: "normal", deadline: "2026-03-05T00:00:00Z" },
    { number: "b", urgency: "normal", deadline: "2026-03-03T00:00:00Z" },
    { number: "c", urgency: "critical", deadline: "2026-03-09T00:00:00Z" },
    { number: "d", urgency: "normal", overdue: true, deadline: "2026-03-01T00:00:00Z" },
    { number: "e", urgency: "urgent", deadline: "2026-03-04T00:00:00Z" },
  ];
  assert.deepEqual(rows.sort(boardOrder).map((r) => r.number), ["c", "e", "d", "b", "a"]);
});

test("tickets waiting for dispatch sit above running clocks, the newest first", () => {
  const rows = [
    { number: "clock", urgency: "normal", deadline: "2026-03-03T00:00:00Z" },
    { number: "old", urgency: "normal", created_at: "2026-03-01T00:00:00Z" },
    { number: "new", urgency: "normal", created_at: "2026-03-02T00:00:00Z" },
  ];
  assert.deepEqual(rows.sort(boardOrder).map((r) => r.number), ["new", "old", "clock"]);
});

test("a missing overdue flag orders like false", () => {
  const a = { urgency: "normal", deadline: "2026-03-03T00:00:00Z" };
  const b = { urgency: "normal", overdue: false, deadline: "2026-03-04T00:00:00Z" };
  assert.ok(boardOrder(a, b) < 0);
  assert.ok(boardOrder(b, a) > 0);
});

test("an alarm nobody acknowledged sits on top, the oldest first", () => {
  const rows = [
    { number: "critical", urgency: "critical" },
    { number: "acknowledged", urgency: "critical", alarm: "acknowledged" },
    { number: "late", urgency: "normal", alarm: "raised", alarm_raised_at: "2026-03-03T10:01:00Z" },
    { number: "early", urgency: "urgent", alarm: "escalated",
      alarm_raised_at: "2026-03-03T10:00:00Z" },
  ];
  assert.deepEqual(rows.sort(boardOrder).map((r) => r.number).slice(0, 2), ["early", "late"]);
});
