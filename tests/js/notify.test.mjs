// What a page tells of arrivals: the new numbers of a list, the title's badge.
import assert from "node:assert/strict";
import { test } from "node:test";

import { arrivals, badgeTitle } from "../../web/static/js/lib/notify.js";

test("arrivals: the numbers a list did not have before; none on the first read", () => {
  assert.deepEqual(arrivals(null, ["A", "B"]), []);
  assert.deepEqual(arrivals(new Set(["A"]), ["A", "B", "C"]), ["B", "C"]);
  assert.deepEqual(arrivals(new Set(["A", "B"]), ["B"]), []);
});

test("badgeTitle: a count in front of the title, none at zero", () => {
  assert.equal(badgeTitle("部门工作台 · 热线", 1), "(1) 部门工作台 · 热线");
  assert.equal(badgeTitle("部门工作台 · 热线", 0), "部门工作台 · 热线");
});
