/* /admin/triage: emergency handling on unattended channels and the per-category thresholds of
 * automatic dispatch (智能派单), read and replaced through /api/v1/admin/triage-settings. */
import { ApiError, api, describe } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { flattenTree, thresholdRows } from "./lib/triage.js";

const SETTINGS_URL = "/api/v1/admin/triage-settings";
const root = document.getElementById("triage-admin");
const tbody = document.querySelector("#thresholds tbody");
const picker = document.getElementById("new-category");
const errorBox = document.getElementById("form-error");
let names = {};
let rules = {};

function render() {
  const rows = thresholdRows(rules, names);
  document.getElementById("empty-rules").hidden = rows.length > 0;
  fill(tbody, rows.map((row) => el("tr", { dataset: { code: row.code } },
    el("td", {}, row.label),
    el("td", {}, el("input", {
      type: "number", min: "0", max: "1", step: "0.01", value: String(row.value),
      "aria-label": `${row.label} 的最低分类把握`, "data-testid": `threshold-${row.code}`,
      oninput: (e) => { rules[row.code] = e.target.value === "" ? "" : Number(e.target.value); },
    })),
    el("td", {}, el("button", {
      type: "button", "data-testid": `remove-${row.code}`,
      onclick: () => { delete rules[row.code]; render(); },
    }, "删除")))));
}

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

async function load() {
  const [settings, tree] = await Promise.all([api("GET", SETTINGS_URL), api("GET", "/api/v1/categories")]);
  const options = flattenTree(tree.items);
  names = Object.fromEntries(options.map((o) => [o.code, o.name]));
  fill(picker, options.map((o) => el("option", { value: o.code }, o.label)));
  document.getElementById("auto-transfer").checked = settings.auto_transfer_110;
  document.getElementById("escalation").value = String(settings.alarm_escalation_seconds);
  rules = { ...settings.auto_dispatch };
  render();
  root.dataset.ready = "true";
}

document.getElementById("add").addEventListener("click", () => {
  const code = picker.value;
  if (code && !(code in rules)) rules[code] = 0.85;
  render();
});

document.getElementById("triage-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const button = document.getElementById("save");
  const escalation = document.getElementById("escalation").value;
  const body = {
    auto_transfer_110: document.getElementById("auto-transfer").checked,
    alarm_escalation_seconds: escalation === "" ? null : Number(escalation),
    auto_dispatch: rules,
  };
  button.disabled = true;
  try {
    const saved = await api("PUT", SETTINGS_URL, body);
    rules = { ...saved.auto_dispatch };
    render();
    document.getElementById("saved").textContent = "已保存";
  } catch (e) {
    showError(e instanceof ApiError ? e.message : describe(e));
  } finally {
    button.disabled = false;
  }
});

load().catch((e) => showError(describe(e)));
