// A completion's evidence: photos, the place reported against the ticket's, the time taken.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  completions, duration, metres, placeText,
} from "../../web/static/js/lib/evidence.js";

test("metres: haversine, null without both places", () => {
  const m = metres({ lon: 114.7, lat: 35.2 }, { lon: 114.7, lat: 35.201 });
  assert.ok(Math.abs(m - 111.2) < 0.5, String(m));
  assert.equal(metres(null, { lon: 1, lat: 2 }), null);
  assert.equal(metres({ lon: 1 }, { lon: 1, lat: 2 }), null);
});

test("placeText and duration speak Chinese", () => {
  assert.equal(placeText(349.6, {}, {}), "距诉求位置 350 米");
  assert.equal(placeText(1234, {}, {}), "距诉求位置 1.2 公里");
  assert.equal(placeText(null, null, {}), "办结时未上报位置");
  assert.equal(placeText(null, {}, null), "工单无位置，无法比较");
  assert.equal(duration("2026-03-01T08:00:00Z", "2026-03-02T10:05:59Z"), "1天2小时5分");
  assert.equal(duration("2026-03-01T08:00:00Z", "2026-03-01T08:05:00Z"), "5分");
  assert.equal(duration(null, "2026-03-01T08:05:00Z"), "");
});

test("completions: newest first, photos, place against the ticket's, time from dispatch", () => {
  const ticket = {
    location: { lon: 114.7, lat: 35.2 },
    assignments: [
      { id: 1, department: "urban", department_name: "城管局", dispatched_at: "2026-03-01T08:00:00Z" },
      { id: 2, department: "roads", department_name: "交通局", dispatched_at: "2026-03-03T08:00:00Z" },
    ],
    events: [
      { action: "complete", at: "2026-03-01T11:30:00Z", payload: { assignment_id: 1,
        department: "urban", result: "已清理", on_time: true, attachments: [7, 8],
        location: { lon: 114.7, lat: 35.201, crs: "WGS84" } } },
      { action: "note", at: "2026-03-02T08:00:00Z", payload: { attachments: [9] } },
      { action: "complete", at: "2026-03-03T09:00:00Z", payload: { assignment_id: 2,
        department: "roads", result: "已修复", on_time: false,
        location: { lon: 114.72, lat: 35.2 } } },
    ],
  };
  const [last, first] = completions(ticket);
  assert.equal(last.departmentName, "交通局");
  assert.deepEqual(last.photos, []);
  assert.equal(last.far, true);
  assert.match(last.placeText, /^距诉求位置 1\.8 公里$/);
  assert.equal(last.took, "1小时0分");
  assert.equal(first.departmentName, "城管局");
  assert.deepEqual(first.photos, [7, 8]);
  assert.equal(first.far, false);
  assert.equal(first.placeText, "距诉求位置 111 米");
  assert.equal(first.took, "3小时30分");
  assert.equal(first.onTime, true);
  assert.deepEqual(completions({ events: [{ action: "complete", at: "x", payload: {} }] })
    .map((c) => [c.placeText, c.took, c.photos.length]), [["办结时未上报位置", "", 0]]);
});
