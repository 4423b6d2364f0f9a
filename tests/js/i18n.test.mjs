// The translation table's reader: Chinese labels of codes, with the code itself as fallback.
import assert from "node:assert/strict";
import { test } from "node:test";

import { translator } from "../../web/static/js/lib/i18n.js";
import { ApiError, describeError } from "../../web/static/js/lib/errors.js";

const TABLE = {
  status: { NEW: "待派单", DISPATCHED: "已派单", TRANSFERRED_110: "已转110" },
  resolved: { true: "已解决", false: "未解决" },
  error: { stale_version: "工单已被他人更新", invalid: "输入有误" },
  field: { text: "诉求内容" },
};
const zh = translator(TABLE);

test("a status code reads as its Chinese name", () => {
  assert.equal(zh("status", "NEW"), "待派单");
  assert.equal(zh("status", "TRANSFERRED_110"), "已转110");
});

test("a code the table lacks reads as itself, so nothing shows blank", () => {
  assert.equal(zh("status", "SOMETHING_NEW"), "SOMETHING_NEW");
  assert.equal(zh("no_such_group", "NEW"), "NEW");
});

test("booleans are looked up by their names", () => {
  assert.equal(zh("resolved", true), "已解决");
  assert.equal(zh("resolved", false), "未解决");
});

test("nothing reads as an empty string, and inherited keys are not labels", () => {
  assert.equal(zh("status", null), "");
  assert.equal(zh("status", undefined), "");
  assert.equal(zh("status", "constructor"), "constructor");
});

test("without a table every code reads as itself", () => {
  assert.equal(translator(undefined)("status", "NEW"), "NEW");
});

test("an API refusal is described by its Chinese name, its field and the server's detail", () => {
  const e = new ApiError(422, "invalid", "must be 1-7", "days");
  assert.equal(describeError(e, zh), "输入有误（days）：must be 1-7");
  assert.equal(describeError(new ApiError(409, "stale_version", "version 3 is not 4"), zh),
    "工单已被他人更新：version 3 is not 4");
});

test("a network failure is said in Chinese; any other failure by its message", () => {
  assert.equal(describeError(new TypeError("Failed to fetch"), zh),
    "无法连接服务器，请检查网络后重试");
  assert.equal(describeError(new TypeError("Load failed"), zh), "无法连接服务器，请检查网络后重试");
  assert.equal(describeError(new Error("网格加载失败"), zh), "网格加载失败");
  assert.equal(describeError("plain", zh), "plain");
});

test("a refused field the table names reads by its Chinese name, its code prefix dropped", () => {
  const e = new ApiError(400, "invalid", "text: 不能超过 4000 个字符", "text");
  assert.equal(describeError(e, zh), "输入有误：「诉求内容」不能超过 4000 个字符");
  const bare = new ApiError(400, "invalid", "不能为空", "text");
  assert.equal(describeError(bare, zh), "输入有误：「诉求内容」不能为空");
});
