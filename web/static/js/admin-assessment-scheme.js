/* /admin/assessment-scheme: the monthly assessment's weights, penalties and ranking volume,
 * read and replaced through /api/v1/admin/assessment-scheme (checked and recorded by the
 * server; a refusal is shown at the field it names and nothing is saved). */
import { api } from "./lib/api.js";
import { onSubmit, showError } from "./lib/admin.js";

const URL = "/api/v1/admin/assessment-scheme";
const DEFAULTS = {
  on_time_sign: 10, on_time_completion: 30, satisfaction: 30, resolution: 20,
  unfounded_return_points: 1, unfounded_return_cap: 5, reopen_points: 1, reopen_cap: 5,
  min_assignments: 5,
};
const root = document.getElementById("admin-assessment-scheme");
const form = document.getElementById("scheme-form");
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
