/* Reading tickets as the API gives them (pure: node tests import it): whose assignment is
 * whose, which clock runs, the status groups of the console's map, the board's order. */

/** Assignment statuses whose clocks still run. */
export const OPEN_ASSIGNMENT = ["dispatched", "signed"];

/** The assignment this user holds on a ticket: a grid worker's by name, a handler's by
 * department; an open one before a completed one, the newest first; null if none. */
export function myAssignment(ticket, me) {
  const mine = (ticket.assignments || []).filter((a) => (me.role === "grid_worker"
    ? a.grid_worker === me.username : a.department === me.department));
  const rank = (a) => (OPEN_ASSIGNMENT.includes(a.status) ? 0 : a.status === "completed" ? 1 : 2);
  mine.sort((a, b) => rank(a) - rank(b) || b.id - a.id);
  return mine[0] || null;
}

/** The open step delegated (下派) to this user: a grid worker's by name, a handler's by
 * department; null if none. */
export function myDelegation(ticket, me) {
  return (ticket.delegations || []).find((d) => ["dispatched", "signed", "completed"]
    .includes(d.status) && (me.role === "grid_worker" ? d.grid_worker === me.username
    : d.department === me.department)) || null;
}

/** The lead assignment of the current round: the open one, else the last. */
export function leadAssignment(ticket) {
  const leads = (ticket.assignments || []).filter((a) => a.role === "lead");
  return leads.find((a) => OPEN_ASSIGNMENT.includes(a.status)) || leads[leads.length - 1] || null;
}

/** The clock an assignment runs now: sign-for while dispatched, completion once signed (with
 * `suspendedUntil` while suspended); null once it is done. */
export function clockOf(a) {
  if (!a) return null;
  if (a.status === "dispatched") {
    return { kind: "sign", deadline: a.sign_deadline, warnAt: a.sign_warn_at };
  }
  if (a.status === "signed") {
    const clock = { kind: "complete", deadline: a.complete_deadline, warnAt: a.complete_warn_at };
    // 挂起: the clock stands until then (the countdown shows 已挂起).
    return a.suspended_until ? { ...clock, suspendedUntil: a.suspended_until } : clock;
  }
  return null;
}

/** Status groups of the console's map markers and legend, in the legend's order. */
export const STATUS_GROUPS = [
  ["new", ["NEW"]],
  ["returned", ["RETURNED", "REOPENED"]],
  ["handling", ["DISPATCHED", "SIGNED"]],
  ["review", ["COMPLETED", "REVIEWED"]],
  ["police", ["TRANSFERRED_110"]],
];
const GROUP_OF = new Map(STATUS_GROUPS.flatMap(([group, statuses]) =>
  statuses.map((s) => [s, group])));

/** The map group of a ticket status ("other" for the closed ones). */
export function statusGroup(status) {
  return GROUP_OF.get(status) || "other";
}

const URGENCY_RANK = { critical: 0, urgent: 1, normal: 2 };

const ALARM_WAITING = ["raised", "escalated"];

/** The console board's order of two ticket summaries: an alarm nobody acknowledged first (the
 * oldest first), then the most urgent, then the overdue; those without a clock (waiting for
 * dispatch) newest first, above the running clocks; then the nearest deadline first. */
export function boardOrder(a, b) {
  const alarmA = ALARM_WAITING.includes(a.alarm);
  if (alarmA !== ALARM_WAITING.includes(b.alarm)) return alarmA ? -1 : 1;
  if (alarmA) return (a.alarm_raised_at || "").localeCompare(b.alarm_raised_at || "");
  const u = (URGENCY_RANK[a.urgency] ?? 3) - (URGENCY_RANK[b.urgency] ?? 3);
  if (u) return u;
  if (Boolean(a.overdue) !== Boolean(b.overdue)) return a.overdue ? -1 : 1;
  if (!a.deadline !== !b.deadline) return a.deadline ? 1 : -1;
  if (!a.deadline) return (b.created_at || "").localeCompare(a.created_at || "");
  return a.deadline.localeCompare(b.deadline);
}
