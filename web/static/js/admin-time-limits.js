/* /admin/time-limits: the time limits per clock and urgency (dispatch/tickets/clocks.py
 * TimeLimits), edited and saved with PUT /api/v1/admin/time-limits; a refusal is shown at the
 * field it names. */
import { api, describe } from "./lib/api.js";
import { showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { zh } from "./lib/page.js";

const URL = "/api/v1/admin/time-limits";
const root = document.getElementById("admin-time-limits");
const form = document.getElementById("limits-form");
const saved = document.getElementById("saved");
const CLOCKS = [
  ["sign", "签收"], ["complete_short", "办结（短）"], ["complete_long", "办结（长）"], ["callback", "回访"]];
const URGENCIES = ["critical", "urgent", "normal"];
const UNITS = [["minutes", "分钟"], ["hours", "小时"], ["working_days", "工作日"]];
const TYPES = ["consult", "help", "complaint", "report", "suggestion", "praise"];
const SCALARS = [
  ["warning_ratio", "预警比例（已用时限的比例，0–1 之间）", "0.01"],
  ["max_extensions", "最多延期次数", "1"],
  ["max_extension_days", "每次延期最多工作日", "1"],
  ["supervision_overdue_days", "超期多少个工作日转督办", "1"],
  ["supervision_days", "督办办理时限（工作日）", "1"],
  ["callback_max_attempts", "回访最多尝试次数", "1"],
];

function render(limits) {
  fill(form.querySelector("tbody"), CLOCKS.map(([clock, title]) => el("tr", {},
    el("th", { scope: "row" }, title),
    URGENCIES.map((u) => {
      const limit = limits[clock][u];
      const where = `${clock}.${u}`;
      return el("td", {},
        el("input", { type: "number", min: "1", step: "1", value: String(limit.value), name: `${where}.value`,
          "aria-label": `${title}·${zh("urgency", u)} 数值`, "data-testid": `${where}.value` }), " ",
        el("select", { name: `${where}.unit`, "aria-label": `${title}·${zh("urgency", u)} 单位`, "data-testid": `${where}.unit` },
          UNITS.map(([unit, text]) => el("option", { value: unit, selected: unit === limit.unit }, text))));
    }))));
  fill(document.getElementById("short-types"), TYPES.map((t) => el("label", {},
    el("input", { type: "checkbox", value: t, checked: limits.short_types.includes(t), "data-testid": `short-${t}` }),
    ` ${zh("type", t)} `)));
  fill(document.getElementById("scalars"), SCALARS.map(([key, title, step]) => el("label", {}, title,
    el("input", { type: "number", name: key, step, value: String(limits[key]), "data-testid": key }))));
}

function number(text) {
  return text.trim() === "" ? text : Number(text);
}

function collect() {
  const f = form.elements;
  const out = {};
  for (const [clock] of CLOCKS) {
    out[clock] = {};
    for (const u of URGENCIES) {
      out[clock][u] = { unit: f[`${clock}.${u}.unit`].value, value: number(f[`${clock}.${u}.value`].value) };
    }
  }
  out.short_types = [...form.querySelectorAll("#short-types input:checked")].map((i) => i.value);
  for (const [key] of SCALARS) out[key] = number(f[key].value);
  return out;
}

function markField(error) {
  form.querySelectorAll(".field-error").forEach((n) => n.remove());
  showError(form, error);
  if (!error || !error.field) return;
  const input = form.querySelector(`[name="${CSS.escape(error.field)}"], [data-field="${CSS.escape(error.field)}"]`)
    || form.querySelector(`[name="${CSS.escape(error.field)}.value"]`);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.after(el("span", { class: "field-error", role: "note", "data-testid": "field-error" }, describe(error)));
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  saved.textContent = "";
  try {
    render(await api("PUT", URL, collect()));
    markField(null);
    saved.textContent = "已保存";
  } catch (e) {
    markField(e);
  }
});

form.querySelector("[data-testid=defaults]").addEventListener("click", async () => {
  if (!window.confirm("把所有时限恢复为出厂默认值？")) return;
  try {
    render(await api("PUT", URL, {}));
    markField(null);
    saved.textContent = "已恢复默认值";
  } catch (e) {
    markField(e);
  }
});

api("GET", URL).then((limits) => { render(limits); root.dataset.ready = "true"; });
