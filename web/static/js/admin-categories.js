/* /admin/categories: the category tree with what uses each node; add, rename, move, deactivate
 * and reactivate, the effect previewed (?dry_run=true) before saving. */
import { api } from "./lib/api.js";
import { showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";

const URL = "/api/v1/admin/categories";
const root = document.getElementById("admin-categories");
const tbody = document.querySelector("[data-testid=categories] tbody");
const addForm = document.getElementById("add-form");
const editForm = document.getElementById("edit-form");
const effectBox = document.getElementById("effect");
const status = document.getElementById("status");
const showInactive = document.getElementById("show-inactive");
const saveButton = editForm.querySelector("[data-testid=save]");
let items = [];
let editing = null;

function label(c) {
  return `${"　".repeat(c.level - 1)}${c.name}`;
}

function parentOptions(select, selected, exclude) {
  const options = [el("option", { value: "" }, "（无，一级分类）")];
  for (const c of items) {
    if (c.level >= 3 || (exclude && (c.code === exclude || c.code.startsWith(`${exclude}.`)))) continue;
    options.push(el("option", { value: c.code, selected: c.code === selected }, `${label(c)}${c.active ? "" : "（已停用）"}`));
  }
  fill(select, options);
  select.value = selected || "";
}

const filter = document.getElementById("filter");
const expanded = new Set();

function ancestors(c) {
  const byCode = Object.fromEntries(items.map((x) => [x.code, x]));
  const out = [];
  for (let p = byCode[c.parent]; p; p = byCode[p.parent]) out.push(p.code);
  return out;
}

function visible(c) {
  if (!showInactive.checked && !c.active) return false;
  const words = filter.value.trim();
  if (words) return c.name.includes(words) || c.code.includes(words);
  return ancestors(c).every((code) => expanded.has(code));
}

function toggle(c) {
  if (!c.children) return "";
  const open = expanded.has(c.code) || filter.value.trim() !== "";
  return el("button", { type: "button", class: "tree-toggle", "aria-expanded": String(open),
    "aria-label": `${open ? "折叠" : "展开"}${c.name}`, "data-testid": `toggle-${c.code}`,
    onclick: () => { if (expanded.has(c.code)) expanded.delete(c.code); else expanded.add(c.code); render(); } },
  open ? "▾" : "▸");
}

function render() {
  const rows = items.filter(visible);
  fill(tbody, rows.map((c) => el("tr", { dataset: { code: c.code }, class: c.active ? "" : "muted" },
    el("td", {}, label(c), " ", toggle(c) || ""),
    el("td", {}, el("code", {}, c.code)),
    el("td", {}, String(c.level)),
    el("td", {}, c.active ? "启用" : "已停用"),
    el("td", {}, String(c.uses.catalogue_rules)),
    el("td", {}, String(c.uses.classifier_rules)),
    el("td", {}, String(c.uses.open_tickets)),
    el("td", {}, el("button", { type: "button", "data-testid": `edit-${c.code}`, onclick: () => startEdit(c) }, "修改")))));
  parentOptions(addForm.elements.parent, addForm.elements.parent.value);
}

async function load() {
  items = (await api("GET", URL)).items;
  render();
}

function startEdit(c) {
  editing = c;
  editForm.hidden = false;
  document.getElementById("edit-title").textContent = `${c.name}（${c.code}）`;
  editForm.elements.name.value = c.name;
  parentOptions(editForm.elements.parent, c.parent, c.code);
  editForm.elements.active.value = String(c.active);
  effectBox.replaceChildren();
  saveButton.disabled = true;
  showError(editForm, null);
  editForm.elements.name.focus();
}

function changeBody() {
  const body = {};
  const name = editForm.elements.name.value;
  if (name !== editing.name) body.name = name;
  const parent = editForm.elements.parent.value || null;
  if (parent !== editing.parent) body.parent = parent;
  const active = editForm.elements.active.value === "true";
  if (active !== editing.active) body.active = active;
  return body;
}

const FIELD_NAMES = { name: "名称", parent: "上级", level: "级别", active: "启用", sort_order: "排序" };

function showEffect(plan) {
  const e = plan.effect;
  const list = (title, entries) => entries.length
    ? el("div", {}, el("h3", {}, title), el("ul", {}, entries.map((x) => el("li", {}, x)))) : null;
  fill(effectBox,
    el("p", { "data-testid": "effect-summary" },
      `将修改 ${plan.changes.length} 个分类；涉及派单目录规则 ${e.catalogue_rules.length} 条、`
      + `分类规则 ${e.classifier_rules.length} 条、在办工单 ${e.open_tickets.count} 件。`),
    list("分类的变化", plan.changes.map((c) => `${c.name}（${c.code}）：` + Object.entries(c.fields)
      .map(([k, [a, b]]) => `${FIELD_NAMES[k] || k} ${a ?? "无"} → ${b ?? "无"}`).join("，"))),
    list("派单目录规则", e.catalogue_rules.map((r) => `#${r.id} ${r.category} @ ${r.area || "全域"} → ${r.lead || "属地"}`)),
    list("分类规则", e.classifier_rules.map((r) => `#${r.id} “${r.phrase}” → ${r.value}`)),
    list("智能派单门槛", e.auto_dispatch_thresholds),
    list("在办工单（最近的几件）", e.open_tickets.numbers));
}

editForm.querySelector("[data-testid=preview]").addEventListener("click", async () => {
  showError(editForm, null);
  saveButton.disabled = true;
  try {
    const plan = await api("PUT", `${URL}/${encodeURIComponent(editing.code)}?dry_run=true`, changeBody());
    showEffect(plan);
    saveButton.disabled = plan.changes.length === 0;
  } catch (e) {
    effectBox.replaceChildren();
    showError(editForm, e);
  }
});

editForm.addEventListener("input", () => { saveButton.disabled = true; });

editForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const plan = await api("PUT", `${URL}/${encodeURIComponent(editing.code)}`, changeBody());
    editForm.hidden = true;
    await load();
    status.textContent = `已保存：修改了 ${plan.changes.length} 个分类`;
  } catch (e) {
    showError(editForm, e);
  }
});

editForm.querySelector("[data-testid=cancel]").addEventListener("click", () => { editForm.hidden = true; });

addForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = addForm.elements;
  try {
    const made = await api("POST", URL, { code: f.code.value.trim(), name: f.name.value, parent: f.parent.value || null });
    showError(addForm, null);
    f.code.value = "";
    f.name.value = "";
    await load();
    ancestors(made).forEach((code) => expanded.add(code));
    render();
    status.textContent = `已新增：${made.name}（${made.code}）`;
  } catch (e) {
    showError(addForm, e);
  }
});

addForm.elements.parent.addEventListener("change", () => {
  const p = addForm.elements.parent.value;
  if (p && !addForm.elements.code.value) addForm.elements.code.value = `${p}.`;
});

showInactive.addEventListener("change", render);
filter.addEventListener("input", render);
root.querySelector("[data-testid=expand-all]").addEventListener("click", () => {
  items.forEach((c) => { if (c.children) expanded.add(c.code); });
  render();
});
root.querySelector("[data-testid=collapse-all]").addEventListener("click", () => { expanded.clear(); render(); });

load().then(() => { root.dataset.ready = "true"; });
