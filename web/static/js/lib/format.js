/* Formatting shared by the pages (pure: no document or window, so node tests import it): times
 * in Asia/Shanghai, counts and rates, file sizes. */

const TZ = "Asia/Shanghai";
const shortFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hour12: false,
});
const fullFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
  minute: "2-digit", second: "2-digit", hour12: false,
});
const dayFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
});

/** An ISO instant as Shanghai time: "03/01 08:30", or with `full` "2026/03/01 08:30:00";
 * "" for nothing or a string that is not a time. */
export function fmtTime(iso, full) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? "" : (full ? fullFormat : shortFormat).format(d);
}

/** The Shanghai calendar day (YYYY-MM-DD) of an instant given in ms. */
export function localDay(ms) {
  return dayFormat.format(new Date(ms));
}

/** A rate (0..1) as a percentage with two decimals; "—" when there is none (no denominator). */
export function percent(rate) {
  return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(2) + "%";
}

/** A count with Chinese digit grouping; "—" when there is none. */
export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN");
}

/** A size in bytes as megabytes: "10 MB", "1.5 MB", "0.50 MB". */
export function megabytes(bytes) {
  const mb = bytes / (1024 * 1024);
  return (Number.isInteger(mb) ? String(mb) : mb.toFixed(mb < 1 ? 2 : 1)) + " MB";
}
