import assert from "node:assert/strict";
import { test } from "node:test";

import { flattenTree, thresholdRows } from "../../web/static/js/lib/triage.js";

test("the category tree flattens parents first, each labelled with its path", () => {
  const tree = [{ code: "utilities", name: "公用事业", children: [
    { code: "utilities.water", name: "供水", children: [] },
    { code: "utilities.power", name: "供电", children: [{ code: "utilities.power.outage", name: "停电", children: [] }] },
  ] }];
  assert.deepEqual(flattenTree(tree).map((o) => [o.code, o.label]), [
    ["utilities", "公用事业"],
    ["utilities.water", "公用事业 › 供水"],
    ["utilities.power", "公用事业 › 供电"],
    ["utilities.power.outage", "公用事业 › 供电 › 停电"],
  ]);
  assert.deepEqual(flattenTree(undefined), []);
});

test("thresholds become rows sorted by code, named when the name is known", () => {
  const rows = thresholdRows({ "utilities.water": 0.8, "transport.public_transit": 0.85 },
    { "utilities.water": "供水" });
  assert.deepEqual(rows, [
    { code: "transport.public_transit", label: "transport.public_transit", value: 0.85 },
    { code: "utilities.water", label: "供水（utilities.water）", value: 0.8 },
  ]);
  assert.deepEqual(thresholdRows(null, {}), []);
});
