// 下派: the step delegated to this user (a village's by department, a grid worker's by name),
// and its clock (the same shape as an assignment's).
import assert from "node:assert/strict";
import { test } from "node:test";

import { clockOf, myDelegation } from "../../web/static/js/lib/tickets.js";

const ticket = {
  delegations: [
    { id: 1, from: "street_pudong", department: "street_pudong_c001", status: "returned" },
    { id: 2, from: "street_pudong", department: "street_pudong_c001", status: "signed",
      complete_deadline: "2026-12-01T15:59:59Z" },
    { id: 3, from: "street_pudong_c001", grid_worker: "worker1", status: "dispatched",
      sign_deadline: "2026-11-24T02:00:00Z" },
  ],
};

test("a village holds the open step delegated to its department, not a returned one", () => {
  const d = myDelegation(ticket, { role: "handler", department: "street_pudong_c001" });
  assert.equal(d.id, 2);
  assert.deepEqual(clockOf(d), { kind: "complete", deadline: "2026-12-01T15:59:59Z",
    warnAt: undefined });
});

test("a grid worker holds the step delegated to them by name; the street holds none", () => {
  assert.equal(myDelegation(ticket, { role: "grid_worker", username: "worker1" }).id, 3);
  assert.equal(myDelegation(ticket, { role: "handler", department: "street_pudong" }), null);
  assert.equal(myDelegation({}, { role: "handler", department: "x" }), null);
});
