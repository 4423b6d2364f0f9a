// Which actions the server lists are offered now: no extension past the deadline or while one
// is pending.
import assert from "node:assert/strict";
import { test } from "node:test";

import { notNow, offeredNow } from "../../web/static/js/lib/offers.js";

const NOW = Date.parse("2026-03-05T08:00:00Z");
const WANTED = ["sign", "note", "complete", "request_extension", "return"];
const mine = { id: 7, status: "signed", complete_deadline: "2026-03-06T08:00:00Z" };
const ticket = { actions: ["note", "complete", "request_extension", "return"], extensions: [] };

test("an extension is offered before the deadline, in the wanted order", () => {
  assert.deepEqual(offeredNow(WANTED, ticket, mine, NOW),
    ["note", "complete", "request_extension", "return"]);
});

test("no extension once the completion deadline has passed", () => {
  const late = { ...mine, complete_deadline: "2026-03-05T07:59:59Z" };
  assert.equal(notNow("request_extension", ticket, late, NOW), "办结时限已过，不能再申请延期");
  assert.deepEqual(offeredNow(WANTED, ticket, late, NOW), ["note", "complete", "return"]);
});

test("no second extension while one of this assignment is pending; another's does not count", () => {
  const pending = { ...ticket, extensions: [{ assignment_id: 7, status: "pending" }] };
  assert.ok(!offeredNow(WANTED, pending, mine, NOW).includes("request_extension"));
  const others = { ...ticket, extensions: [{ assignment_id: 8, status: "pending" },
    { assignment_id: 7, status: "refused" }] };
  assert.ok(offeredNow(WANTED, others, mine, NOW).includes("request_extension"));
});

test("nothing the server does not list, and no extension without an open assignment", () => {
  assert.deepEqual(offeredNow(WANTED, { actions: [] }, mine, NOW), []);
  assert.ok(notNow("request_extension", ticket, null, NOW));
  assert.ok(notNow("request_extension", ticket, { ...mine, status: "completed" }, NOW));
  assert.equal(notNow("note", ticket, null, NOW), null);
});
