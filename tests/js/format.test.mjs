// Times in Asia/Shanghai, rates and counts as the dashboard prints them, file sizes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { count, fmtTime, localDay, megabytes, percent } from "../../web/static/js/lib/format.js";

test("times are shown in Shanghai time whatever the machine's zone", () => {
  assert.equal(fmtTime("2026-03-01T16:30:00Z"), "03/02 00:30");
  assert.equal(fmtTime("2026-03-01T16:30:05Z", true), "2026/03/02 00:30:05");
});

test("no time or not a time shows nothing", () => {
  assert.equal(fmtTime(null), "");
  assert.equal(fmtTime(""), "");
  assert.equal(fmtTime("not a time"), "");
});

test("the local day turns at Shanghai midnight", () => {
  assert.equal(localDay(Date.parse("2026-03-01T15:59:59Z")), "2026-03-01");
  assert.equal(localDay(Date.parse("2026-03-01T16:00:00Z")), "2026-03-02");
});

test("rates are percentages with two decimals; no rate is a dash", () => {
  assert.equal(percent(0.98765), "98.77%");
  assert.equal(percent(0), "0.00%");
  assert.equal(percent(1), "100.00%");
  assert.equal(percent(null), "—");
  assert.equal(percent(undefined), "—");
});

test("counts are grouped by thousands; no count is a dash", () => {
  assert.equal(count(1234567), "1,234,567");
  assert.equal(count(0), "0");
  assert.equal(count(null), "—");
});

test("sizes in megabytes: whole, one decimal, two under one", () => {
  assert.equal(megabytes(10 * 1024 * 1024), "10 MB");
  assert.equal(megabytes(1.5 * 1024 * 1024), "1.5 MB");
  assert.equal(megabytes(512 * 1024), "0.50 MB");
});
