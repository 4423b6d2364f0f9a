// A page of numeric settings (the assessment scheme, the repeat rules): the form shows the
// server's values, 保存 sends numbers (blank as null) and shows what was kept, 恢复默认值 only
// fills the form, and a refusal is left to showError with nothing marked saved.
import assert from "node:assert/strict";
import { test } from "node:test";

import { numberSettings, readNumbers, showNumbers } from "../../web/static/js/lib/number-settings.js";

const DEFAULTS = { radius_m: 250, window_hours: 72 };

function fakeForm(values) {
  const elements = {};
  for (const [name, value] of Object.entries(values)) elements[name] = { value };
  return { elements };
}

function fakePage(values) {
  const form = fakeForm(values);
  const saved = { textContent: "旧" };
  const clicks = [];
  const reset = { addEventListener: (type, handler) => clicks.push([type, handler]) };
  const parts = { form, "#saved": saved, "#defaults": reset };
  const root = { dataset: { ready: "false" }, querySelector: (selector) => parts[selector] };
  return { root, form, saved, clicks };
}

function fakeTools(answers) {
  const calls = [];
  const errors = [];
  const submits = [];
  const tools = {
    api: async (method, url, body) => {
      calls.push([method, url, body]);
      const answer = answers[method];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onSubmit: (form, action) => submits.push(action),
    showError: (form, error) => errors.push([form, error]),
  };
  return { tools, calls, errors, submits };
}

test("values go into the inputs of their names as text; unknown names are skipped", () => {
  const form = fakeForm({ radius_m: "", window_hours: "" });
  showNumbers(form, { radius_m: 300, window_hours: 1.5, limit: 9 });
  assert.deepEqual(form.elements, { radius_m: { value: "300" }, window_hours: { value: "1.5" } });
});

test("the named inputs are read as numbers, a blank one as null", () => {
  const form = fakeForm({ radius_m: " 120 ", window_hours: "  ", limit: "7" });
  assert.deepEqual(readNumbers(form, ["radius_m", "window_hours"]),
    { radius_m: 120, window_hours: null });
});

test("the page loads the server's values, then marks itself ready", async () => {
  const page = fakePage({ radius_m: "", window_hours: "" });
  const fake = fakeTools({ GET: { radius_m: 500, window_hours: 24 } });
  await numberSettings(page.root, "/api/v1/admin/repeat-rules", DEFAULTS, fake.tools);
  assert.deepEqual(fake.calls, [["GET", "/api/v1/admin/repeat-rules", undefined]]);
  assert.equal(page.form.elements.radius_m.value, "500");
  assert.equal(page.form.elements.window_hours.value, "24");
  assert.equal(page.root.dataset.ready, "true");
  assert.deepEqual(fake.errors, []);
});

test("a load refused is shown on the form and the page is not marked ready", async () => {
  const page = fakePage({ radius_m: "", window_hours: "" });
  const refusal = new Error("无权限");
  const fake = fakeTools({ GET: refusal });
  await numberSettings(page.root, "/api/v1/admin/repeat-rules", DEFAULTS, fake.tools);
  assert.deepEqual(fake.errors, [[page.form, refusal]]);
  assert.equal(page.root.dataset.ready, "false");
  assert.equal(page.form.elements.radius_m.value, "");
});

test("saving sends every field as a number and shows what the server kept", async () => {
  const page = fakePage({ radius_m: "", window_hours: "" });
  const fake = fakeTools({ GET: { radius_m: 500, window_hours: 24 },
    PUT: { radius_m: 400, window_hours: 48 } });
  await numberSettings(page.root, "/api/v1/admin/repeat-rules", DEFAULTS, fake.tools);
  page.form.elements.radius_m.value = "400";
  page.form.elements.window_hours.value = " ";
  assert.equal(fake.submits.length, 1);
  await fake.submits[0]();
  assert.deepEqual(fake.calls[1],
    ["PUT", "/api/v1/admin/repeat-rules", { radius_m: 400, window_hours: null }]);
  assert.equal(page.form.elements.window_hours.value, "48");
  assert.equal(page.saved.textContent, "已保存");
});

test("a refused save leaves the form as typed and nothing marked saved", async () => {
  const page = fakePage({ radius_m: "", window_hours: "" });
  const refusal = new Error("radius_m: 须在 1 到 10000 之间");
  const fake = fakeTools({ GET: { radius_m: 500, window_hours: 24 }, PUT: refusal });
  await numberSettings(page.root, "/api/v1/admin/repeat-rules", DEFAULTS, fake.tools);
  page.form.elements.radius_m.value = "0";
  await assert.rejects(fake.submits[0](), refusal); // onSubmit shows it at its field
  assert.equal(page.saved.textContent, "");
  assert.equal(page.form.elements.radius_m.value, "0");
  assert.equal(fake.calls.length, 2);
});

test("恢复默认值 fills the form with the defaults and sends nothing", async () => {
  const page = fakePage({ radius_m: "", window_hours: "" });
  const fake = fakeTools({ GET: { radius_m: 500, window_hours: 24 } });
  await numberSettings(page.root, "/api/v1/admin/repeat-rules", DEFAULTS, fake.tools);
  assert.equal(page.clicks.length, 1);
  const [type, handler] = page.clicks[0];
  assert.equal(type, "click");
  handler();
  assert.equal(page.form.elements.radius_m.value, "250");
  assert.equal(page.form.elements.window_hours.value, "72");
  assert.equal(fake.calls.length, 1);
});
