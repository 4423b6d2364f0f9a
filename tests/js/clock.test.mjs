// Countdowns to deadlines: what the boards show left or overdue, and when a clock turns to warning.
import assert from "node:assert/strict";
import { test } from "node:test";

import { countdown, span } from "../../web/static/js/lib/clock.js";

const at = (iso) => Date.parse(iso);

test("a deadline hours away shows hours and two-digit minutes", () => {
  const cd = countdown("2026-03-02T10:05:00Z", null, at("2026-03-02T08:00:00Z"));
  assert.deepEqual(cd, { text: "剩 2小时05分", state: "ok" });
});

test("under an hour shows the minutes alone, rounded down", () => {
  assert.equal(countdown("2026-03-02T08:09:59Z", null, at("2026-03-02T08:00:00Z")).text, "剩 9分");
});

test("a deadline 3 working days on, across a weekend, counts the calendar time left", () => {
  // Friday 2026-03-06 10:00 Shanghai; three working days on end Wednesday 23:59:59 Shanghai.
  const friday = at("2026-03-06T02:00:00Z");
  const wednesdayEnd = "2026-03-11T15:59:59Z";
  assert.equal(countdown(wednesdayEnd, null, friday).text, "剩 5天13小时59分");
});

test("whole days keep the hours even when they are zero", () => {
  assert.equal(countdown("2026-03-04T08:00:00Z", null, at("2026-03-02T08:00:00Z")).text,
    "剩 2天0小时00分");
});

test("past the deadline the clock is overdue and says by how much", () => {
  const cd = countdown("2026-03-02T08:00:00Z", "2026-03-02T06:00:00Z", at("2026-03-03T09:15:00Z"));
  assert.deepEqual(cd, { text: "超时 1天1小时15分", state: "overdue" });
});

test("the warning state starts at the warning time, not before", () => {
  const deadline = "2026-03-02T12:00:00Z";
  const warnAt = "2026-03-02T10:00:00Z";
  assert.equal(countdown(deadline, warnAt, at("2026-03-02T09:59:00Z")).state, "ok");
  assert.equal(countdown(deadline, warnAt, at("2026-03-02T10:00:00Z")).state, "warning");
  assert.equal(countdown(deadline, warnAt, at("2026-03-02T12:00:01Z")).state, "overdue");
});

test("the deadline itself is not yet overdue", () => {
  assert.deepEqual(countdown("2026-03-02T12:00:00Z", null, at("2026-03-02T12:00:00Z")),
    { text: "剩 0分", state: "ok" });
});

test("no deadline: no text and no state", () => {
  assert.deepEqual(countdown(null, null, at("2026-03-02T12:00:00Z")), { text: "", state: "none" });
  assert.deepEqual(countdown("", "2026-03-02T10:00:00Z", 0), { text: "", state: "none" });
});

test("span is symmetric around zero", () => {
  assert.equal(span(-90 * 60000), span(90 * 60000));
  assert.equal(span(90 * 60000), "1小时30分");
});

test("a suspended clock shows 已挂起 and stands until its end date, then counts again", () => {
  const deadline = "2026-03-02T08:00:00Z";
  const until = "2026-03-10T16:00:00Z"; // 00:00 on 11 March, Shanghai
  // Past the deadline as written, yet suspended: neither overdue nor counting.
  assert.deepEqual(countdown(deadline, null, at("2026-03-05T00:00:00Z"), until),
    { text: "已挂起", state: "suspended" });
  assert.deepEqual(countdown(null, null, at("2026-03-05T00:00:00Z"), until),
    { text: "已挂起", state: "suspended" });
  // From the end date on, the clock runs (the server moves the deadline when it resumes).
  assert.equal(countdown("2026-03-12T08:00:00Z", null, at("2026-03-10T16:00:00Z"), until).text,
    "剩 1天16小时00分");
  // No end date: as before.
  assert.equal(countdown(deadline, null, at("2026-03-02T07:00:00Z"), null).state, "ok");
});
