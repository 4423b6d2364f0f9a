// The dashboard's periods: which local days "this week", "this quarter"… cover, and the trend's
// bucket for a span.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bucketLabel, daysBetween, MAX_TREND_POINTS, periodDays, trendEvery, validDay,
} from "../../web/static/js/lib/periods.js";

test("a week starts on Monday, also when today is Sunday", () => {
  assert.deepEqual(periodDays("week", "2026-03-05"), ["2026-03-02", "2026-03-05"]); // Thursday
  assert.deepEqual(periodDays("week", "2026-03-08"), ["2026-03-02", "2026-03-08"]); // Sunday
  assert.deepEqual(periodDays("week", "2026-03-02"), ["2026-03-02", "2026-03-02"]); // Monday
});

test("month, quarter and year start on their first day", () => {
  assert.deepEqual(periodDays("month", "2026-05-20"), ["2026-05-01", "2026-05-20"]);
  assert.deepEqual(periodDays("quarter", "2026-05-20"), ["2026-04-01", "2026-05-20"]);
  assert.deepEqual(periodDays("quarter", "2026-12-31"), ["2026-10-01", "2026-12-31"]);
  assert.deepEqual(periodDays("year", "2026-05-20"), ["2026-01-01", "2026-05-20"]);
  assert.deepEqual(periodDays("today", "2026-05-20"), ["2026-05-20", "2026-05-20"]);
});

test("a custom period keeps its days, each defaulting to today", () => {
  assert.deepEqual(periodDays("custom", "2026-05-20", "2026-01-10", "2026-02-10"),
    ["2026-01-10", "2026-02-10"]);
  assert.deepEqual(periodDays("custom", "2026-05-20", "", ""), ["2026-05-20", "2026-05-20"]);
});

test("days between local days, across a month end and a leap day", () => {
  assert.equal(daysBetween("2026-03-01", "2026-03-01"), 0);
  assert.equal(daysBetween("2028-02-28", "2028-03-01"), 2);
  assert.equal(daysBetween("2026-12-31", "2027-01-01"), 1);
});

test("only real calendar days are days", () => {
  assert.equal(validDay("2026-03-01"), true);
  assert.equal(validDay("2028-02-29"), true);
  assert.equal(validDay("2026-02-29"), false);
  assert.equal(validDay("2026-3-1"), false);
  assert.equal(validDay(""), false);
  assert.equal(validDay(null), false);
});

test("the trend is by day up to two months, by week up to a year, then by month", () => {
  assert.equal(trendEvery("2026-01-01", "2026-03-03"), "day"); // 62 days
  assert.equal(trendEvery("2026-01-01", "2026-03-04"), "week");
  assert.equal(trendEvery("2026-01-01", "2026-12-31"), "week");
  assert.equal(trendEvery("2025-01-01", "2026-12-31"), "month");
});

test("the user's bucket holds unless days would pass the API's limit", () => {
  assert.equal(trendEvery("2026-01-01", "2026-12-31", "day"), "day"); // 365 days
  const from = "2024-01-01";
  assert.ok(daysBetween(from, "2026-12-31") + 1 > MAX_TREND_POINTS);
  assert.equal(trendEvery(from, "2026-12-31", "day"), "month");
  assert.equal(trendEvery(from, "2026-12-31", "week"), "week");
});

test("bucket labels: a day, a week's span, a month", () => {
  const point = { from: "2026-03-02", to: "2026-03-08" };
  assert.equal(bucketLabel(point, "day"), "03-02");
  assert.equal(bucketLabel(point, "week"), "03-02~03-08");
  assert.equal(bucketLabel(point, "month"), "2026-03");
});
