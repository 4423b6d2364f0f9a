// The console's grid-worker picker: names, on duty first, the username only as the value.
import assert from "node:assert/strict";
import { test } from "node:test";

import { NOBODY, workerChoices } from "../../web/static/js/lib/workers.js";

const CELL = [
  { username: "gw_day", name: "白班网格员", on_duty: false, duties: ["周一至周五 08:00–18:00"] },
  { username: "gw_night", name: "夜班网格员", on_duty: true, duties: ["每天 18:00–08:00"] },
  { username: "gw_spare", name: "", on_duty: false, duties: [] },
];

test("the cell's workers by name, those on duty first, nobody chosen by default", () => {
  const choices = workerChoices(CELL, "");
  assert.deepEqual(choices.map((c) => c.label),
    [NOBODY, "夜班网格员（值班中）", "白班网格员（不在班）", "gw_spare（不在班）"]);
  assert.deepEqual(choices.map((c) => c.value), ["", "gw_night", "gw_day", "gw_spare"]);
  assert.deepEqual(choices.filter((c) => c.selected).map((c) => c.value), [""]);
  // The username is the value and the tooltip, never the label of a worker who has a name.
  assert.ok(choices.slice(1, 3).every((c) => !c.label.includes(c.value)));
  assert.equal(choices[1].title, "gw_night · 每天 18:00–08:00");
});

test("the proposed worker is selected; one off the roster is kept by name", () => {
  assert.deepEqual(workerChoices(CELL, "gw_day").filter((c) => c.selected)
    .map((c) => c.value), ["gw_day"]);
  const gone = workerChoices(CELL, "gw_moved", "调走的网格员");
  assert.equal(gone.length, 5);
  assert.deepEqual(gone.at(-1), { value: "gw_moved", label: "调走的网格员（不在本网格名册）",
    title: "gw_moved", selected: true });
  assert.equal(gone.filter((c) => c.selected).length, 1);
  assert.equal(workerChoices([], "gw_x").at(-1).label, "原指定网格员（不在本网格名册）");
  assert.deepEqual(workerChoices(null, null).map((c) => c.value), [""]);
});

