/* Countdowns to a ticket's deadlines (pure: node tests import it). The server computes the
 * deadlines over working days (DOMAIN.md); a countdown shows the time left on the clock, days
 * included, from `at` (ms, the server's clock as the page knows it: page.js `now()`). */

const MINUTE = 60000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span of time as "2天3小时05分", "3小时05分" or "5分" (minutes rounded down). */
export function span(ms) {
  const abs = Math.abs(ms);
  const days = Math.floor(abs / DAY);
  const hours = Math.floor((abs % DAY) / HOUR);
  const minutes = Math.floor((abs % HOUR) / MINUTE);
  const long = days || hours;
  return (days ? `${days}天` : "") + (long ? `${hours}小时` : "") +
    `${String(minutes).padStart(long ? 2 : 1, "0")}分`;
}

/** "剩 2小时05分" / "超时 15分" until an ISO deadline, and how it stands: "ok", "warning" (the
 * warning time has come), "overdue", or "none" without a deadline; "已挂起" and "suspended"
 * while the clock stands (挂起: `suspendedUntil`, an ISO time, not yet come), whatever the
 * deadline says. */
export function countdown(deadline, warnAt, at, suspendedUntil) {
  if (suspendedUntil && Date.parse(suspendedUntil) > at) {
    return { text: "已挂起", state: "suspended" };
  }
  if (!deadline) return { text: "", state: "none" };
  const left = Date.parse(deadline) - at;
  let state = "ok";
  if (left < 0) state = "overdue";
  else if (warnAt && Date.parse(warnAt) <= at) state = "warning";
  return { text: (left < 0 ? "超时 " : "剩 ") + span(left), state };
}
