/* /admin/catalogue: the dispatch catalogue (派单目录) with names, add/edit/delete, and 试一试:
 * a demand text and an address routed (by the saved rules, or with the rule being edited). */
import { api } from "./lib/api.js";
import { showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { flattenTree } from "./lib/triage.js";

const URL = "/api/v1/admin/catalogue";
const root = document.getElementById("admin-catalogue");
const tbody = document.querySelector("[data-testid=rules] tbody");
const form = document.getElementById("rule-form");
const tryForm = document.getElementById("try-form");
const result = document.getElementById("try-result");
const status = document.getElementById("status");
let editing = null;

function options(select, entries, blank) {
  fill(select, [blank ? el("option", { value: "" }, blank) : null,
    ...entries.map(([value, text]) => el("option", { value }, text))]);
}

async function loadChoices() {
  const [tree, depts, areas] = await Promise.all([
    api("GET", "/api/v1/categories"), api("GET", "/api/v1/departments"), api("GET", "/api/v1/grid/areas")]);
  const cats = flattenTree(tree.items).map((o) => [o.code, o.label]);
  options(form.elements.category, cats);
  options(tryForm.elements.category, cats, "（由系统识别）");
  const active = depts.items.filter((d) => d.active);
  options(form.elements.lead, active.map((d) => [d.code, d.name]), "属地街道主办");
  options(form.elements.co_handlers, active.map((d) => [d.code, d.name]));
  const levelName = { district: "区县", street: "街道", community: "社区" };
  options(form.elements.area, areas.items.filter((a) => a.level !== "district")
    .map((a) => [a.code, `${a.name}（${levelName[a.level] || a.level}）`]), "全域");
}

function body() {
  const f = form.elements;
  return {
    category: f.category.value, area: f.area.value || null, lead: f.lead.value || null,
    co_handlers: [...f.co_handlers.selectedOptions].map((o) => o.value),
    co_territorial: f.co_territorial.checked, on_site: f.on_site.checked,
    note: f.note.value.trim() || null, active: f.active.checked,
  };
}

function edit(rule) {
  editing = rule;
  const f = form.elements;
  document.getElementById("rule-title").textContent = rule ? `修改规则 #${rule.id}` : "新增规则";
  f.category.value = rule ? rule.category : f.category.options[0]?.value;
  f.area.value = rule && rule.area ? rule.area : "";
  f.lead.value = rule && rule.lead ? rule.lead : "";
  for (const o of f.co_handlers.options) o.selected = Boolean(rule && rule.co_handlers.includes(o.value));
  f.co_territorial.checked = Boolean(rule && rule.co_territorial);
  f.on_site.checked = Boolean(rule && rule.on_site);
  f.note.value = (rule && rule.note) || "";
  f.active.checked = !rule || rule.active;
  showError(form, null);
}

let rules = [];
const filter = document.getElementById("filter");

async function load() {
  rules = (await api("GET", URL)).items;
  document.getElementById("empty").hidden = rules.length > 0;
  render();
}

function render() {
  const words = filter.value.trim();
  const shown = words ? rules.filter((r) => [r.category_name, r.category, r.area_name, r.lead_name,
    ...r.co_handler_names].some((x) => x && x.includes(words))) : rules;
  fill(tbody, shown.map((r) => el("tr", { dataset: { id: String(r.id) } },
    el("td", {}, String(r.id)),
    el("td", {}, r.category_name || r.category),
    el("td", {}, r.area_name || r.area || "全域"),
    el("td", {}, r.lead_name),
    el("td", {}, [r.co_handler_names.join("、"), r.co_territorial ? "（属地街道协办）" : ""].join("")),
    el("td", {}, r.on_site ? "是" : "否"),
    el("td", {}, r.active ? "启用" : "停用"),
    el("td", {},
      el("button", { type: "button", "data-testid": `edit-${r.id}`, onclick: () => edit(r) }, "修改"), " ",
      el("button", { type: "button", "data-testid": `delete-${r.id}`, onclick: () => remove(r) }, "删除")))));
}

async function remove(rule) {
  if (!window.confirm(`删除规则 #${rule.id}（${rule.category_name} @ ${rule.area_name}）？`)) return;
  try {
    await api("DELETE", `${URL}/${rule.id}`);
    status.textContent = `已删除规则 #${rule.id}`;
    if (editing && editing.id === rule.id) edit(null);
    await load();
  } catch (e) {
    showError(form, e);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const saved = editing
      ? await api("PUT", `${URL}/${editing.id}`, body())
      : await api("POST", URL, body());
    edit(null);
    await load();
    status.textContent = `已保存规则 #${saved.id}`;
  } catch (e) {
    showError(form, e);
  }
});

filter.addEventListener("input", render);

form.querySelector("[data-testid=rule-new]").addEventListener("click", () => edit(null));

tryForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = tryForm.elements;
  const request = { text: f.text.value.trim() || null, address: f.address.value.trim() || null,
    category: f.category.value || null };
  if (f.with_draft.checked) {
    request.rule = body();
    if (editing) request.rule_id = editing.id;
  }
  try {
    const answer = await api("POST", `${URL}/try`, request);
    showError(tryForm, null);
    const r = answer.routing;
    fill(result,
      el("p", { "data-testid": "try-lead" }, `主办：${r.lead_name || "（需派单员选择）"}`
        + (r.co_handler_names.length ? `；协办：${r.co_handler_names.join("、")}` : "")
        + (r.on_site ? `；需网格员到场${r.grid_worker_name ? `（${r.grid_worker_name}）` : ""}` : "")),
      el("p", {}, `分类：${answer.category_name || "未识别"}${answer.suggested ? "（系统识别）" : ""}；`
        + `位置：${answer.location.names.join(" > ") || "未定位"}`),
      el("ul", { "data-testid": "try-reasons" },
        [...answer.location.reasons, ...r.reasons].map((x) => el("li", {}, x))));
  } catch (e) {
    result.replaceChildren();
    showError(tryForm, e);
  }
});

Promise.all([loadChoices(), load()]).then(() => { edit(null); root.dataset.ready = "true"; });
