// The console drawer's helpers: distance of a reported completion, time taken, and the 改派
// suggestion that never proposes a department that returned the ticket.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  candidateText, nextCandidate,
} from "../../web/static/js/lib/review.js";
import {
  distanceText, duration as took, metres as metresBetween,
} from "../../web/static/js/lib/evidence.js";

test("distance between two points, and none without both", () => {
  const m = metresBetween({ lon: 114.669, lat: 35.201 }, { lon: 114.669, lat: 35.202 });
  assert.ok(m > 110 && m < 112, String(m));
  assert.equal(distanceText(m), "111 米");
  assert.equal(distanceText(2345), "2.3 公里");
  assert.equal(metresBetween(null, { lon: 1, lat: 2 }), null);
  assert.equal(metresBetween({ lon: 1 }, { lon: 1, lat: 2 }), null);
  assert.equal(distanceText(null), null);
});

test("time taken in days, hours and minutes", () => {
  assert.equal(took("2026-12-01T08:00:00+08:00", "2026-12-02T10:05:00+08:00"), "1天2小时5分");
  assert.equal(took("2026-12-01T08:00:00+08:00", "2026-12-01T08:07:00+08:00"), "7分");
  assert.equal(took(null, "2026-12-01T08:07:00+08:00"), "");
});

const DEPTS = [
  { code: "urban_management", name: "城市管理局", kind: "functional", street: null, active: true },
  { code: "housing", name: "住建局", kind: "functional", street: null, active: true },
  { code: "community_x", name: "蒲东社区", kind: "territorial", street: "pudong", active: true },
  { code: "street_pudong", name: "蒲东街道", kind: "territorial", street: "pudong", active: true },
];

function returnedBy(code, reason) {
  return { department: code, department_name: null, role: "lead", status: "returned",
    return_reason: reason };
}

test("the department that just returned the ticket is never suggested again", () => {
  const t = { routing: { lead: "urban_management", co_handlers: ["housing"] },
    location: { street: "pudong" },
    assignments: [returnedBy("urban_management", "不属于本单位职责")] };
  const c = nextCandidate(t, DEPTS);
  assert.equal(c.code, "housing");
  assert.equal(candidateText(c), "城市管理局 已退单（不属于本单位职责）。建议改派 住建局：" +
    "派单目录中此事项的协办单位，可改为主办。");
  t.assignments.push(returnedBy("housing", "非本部门事项"));
  const office = nextCandidate(t, DEPTS);
  assert.equal(office.code, "street_pudong");
  assert.match(candidateText(office), /^住建局 已退单（非本部门事项）。建议改派 蒲东街道：事发地/);
  t.assignments.push(returnedBy("street_pudong", "已多次退回"));
  const none = nextCandidate(t, DEPTS);
  assert.equal(none.code, null);
  assert.match(candidateText(none), /请派单员选择$/);
});

test("without returns the catalogue's lead stays the suggestion", () => {
  const c = nextCandidate({ routing: { lead: "urban_management" }, assignments: [] }, DEPTS);
  assert.equal(c.code, "urban_management");
  assert.equal(c.why, "派单目录推荐的主办单位");
});
