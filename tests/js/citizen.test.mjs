// The citizens' pages: checks before sending, the pick-up code as typed, state styles.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  normalizeCode, photoProblem, reportProblem, stateTone, trackHref, trackProblem,
} from "../../web/static/js/lib/citizen.js";

const MB = 1024 * 1024;

test("at most three photos, each under the limit and an image", () => {
  assert.equal(photoProblem([], 3, 10 * MB), null);
  assert.equal(photoProblem([{ size: MB, type: "image/jpeg" }], 3, 10 * MB), null);
  const four = Array(4).fill({ size: 1, type: "image/png" });
  assert.match(photoProblem(four, 3, 10 * MB), /^照片：最多上传 3 张（选了 4 张）/);
  assert.match(photoProblem([{ size: 1, type: "image/png" }, { size: 20 * MB, type: "image/jpeg" }],
    3, 10 * MB), /第 2 张超过 10 MB/);
  assert.match(photoProblem([{ size: 5, type: "application/pdf" }], 3, 10 * MB), /不是图片/);
});

test("a code is read in upper case without spaces or dashes", () => {
  assert.equal(normalizeCode(" ab3-k9 z "), "AB3K9Z");
  assert.equal(normalizeCode(null), "");
});

test("a number and a code are checked before asking, in Chinese, naming the field", () => {
  assert.equal(trackProblem("12345-20261123-000123", "ab3k9z", 6), null);
  assert.match(trackProblem("", "AB3K9Z", 6), /^工单编号：/);
  assert.match(trackProblem("123", "AB3K9Z", 6), /^工单编号：格式/);
  assert.match(trackProblem("12345-20261123-000123", "", 6), /^提取码：请填写/);
  assert.match(trackProblem("12345-20261123-000123", "AB3", 6), /^提取码：应为 6 位/);
  // 0, O, 1 and I are never in a code (misread on a screen)
  assert.match(trackProblem("12345-20261123-000123", "AB3K9O", 6), /^提取码：/);
});

test("a demand needs its text, a place, and a phone unless anonymous", () => {
  const ok = { text: "路灯不亮", address: "", lon: "114.6", anonymous: false, phone: "13800138000" };
  assert.equal(reportProblem(ok), null);
  assert.match(reportProblem({ ...ok, text: "  " }), /^反映的问题：/);
  assert.match(reportProblem({ ...ok, lon: "" }), /^位置：/);
  assert.equal(reportProblem({ ...ok, lon: "", address: "宏力大道" }), null);
  assert.match(reportProblem({ ...ok, phone: "" }), /^手机号：/);
  assert.equal(reportProblem({ ...ok, phone: "", anonymous: true }), null);
});

test("states have a tone; the track link never carries the code", () => {
  assert.equal(stateTone("待评价"), "waiting");
  assert.equal(stateTone("已办结"), "done");
  assert.equal(stateTone("已派单"), "progress");
  assert.equal(stateTone("已转110处理"), "alarm");
  assert.equal(trackHref("12345-20261123-000123"), "/track?number=12345-20261123-000123");
});
