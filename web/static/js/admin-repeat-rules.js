/* /admin/repeat-rules: the repeat rule's distance and windows, read and replaced through
 * /api/v1/admin/repeat-rules (checked and recorded by the server; a refusal is shown at the
 * field it names and nothing is saved). */
import { api } from "./lib/api.js";
import { onSubmit, showError } from "./lib/admin.js";

const URL = "/api/v1/admin/repeat-rules";
const DEFAULTS = { radius_m: 250, window_hours: 72, same_caller_days: 30, limit: 10 };
const root = document.getElementById("admin-repeat-rules");
const form = document.getElementById("repeat-form");
const saved = document.getElementById("saved");

function show(values) {
  for (const [name, value] of Object.entries(values)) {
    if (form.elements[name]) form.elements[name].value = String(value);
  }
}

function read() {
  const body = {};
  for (const name of Object.keys(DEFAULTS)) {
    const raw = form.elements[name].value.trim();
    body[name] = raw === "" ? null : Number(raw);
  }
  return body;
}

onSubmit(form, async () => {
  saved.textContent = "";
  show(await api("PUT", URL, read()));
  saved.textContent = "已保存";
});

document.getElementById("defaults").addEventListener("click", () => show(DEFAULTS));

api("GET", URL).then((values) => {
  show(values);
  root.dataset.ready = "true";
}).catch((e) => showError(form, e));
