/* The dashboard's periods over local days (pure: node tests import it). Days are "YYYY-MM-DD"
 * in Asia/Shanghai; the statistics API takes them as from/to, both included. */

/** The API's limit on trend buckets (dispatch.stats.metrics.MAX_BUCKETS). */
export const MAX_TREND_POINTS = 400;

function parseDay(s) {
  const [y, m, d] = s.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** Days from one local day to another (0 for the same day). */
export function daysBetween(a, b) {
  return Math.round((parseDay(b) - parseDay(a)) / 86400000);
}

/** Whether a string is a real calendar day written YYYY-MM-DD. */
export function validDay(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s || "")) return false;
  return isoDay(parseDay(s)) === s; // 2026-02-30 rolls over to March: not a day
}

/**
 * A period's first and last local day, up to `today`: "today", "week" (from Monday), "month",
 * "quarter", "year", or "custom" (from..to, each defaulting to today).
 */
export function periodDays(period, today, from, to) {
  const d = parseDay(today);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case "today": return [today, today];
    case "week": {
      const monday = new Date(d);
      monday.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      return [isoDay(monday), today];
    }
    case "quarter": return [isoDay(new Date(Date.UTC(y, m - (m % 3), 1))), today];
    case "year": return [`${y}-01-01`, today];
    case "custom": return [from || today, to || today];
    default: return [isoDay(new Date(Date.UTC(y, m, 1))), today];
  }
}

/** The trend's bucket for a span: the user's choice (`chosen`) unless days would exceed the
 * API's limit, else days up to two months, weeks up to a year, then months. */
export function trendEvery(from, to, chosen) {
  const days = daysBetween(from, to) + 1;
  if (chosen && !(chosen === "day" && days > MAX_TREND_POINTS)) return chosen;
  if (days <= 62) return "day";
  return days <= 366 ? "week" : "month";
}

/** A trend bucket's axis label: "03-05" for a day, "2026-03" for a month, "03-02~03-08" for a
 * week. */
export function bucketLabel(point, every) {
  if (every === "day") return point.from.slice(5);
  if (every === "month") return point.from.slice(0, 7);
  return `${point.from.slice(5)}~${point.to.slice(5)}`;
}
