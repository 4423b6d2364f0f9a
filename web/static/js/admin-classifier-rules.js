/* /admin/classifier-rules: the classifier's weighted phrases, listed with filters (field,
 * category, phrase), added, changed and removed through /api/v1/admin/classifier-rules; a
 * refusal is shown at the field it names and nothing is saved. */
import { api } from "./lib/api.js";
import { onSubmit, queryOf, showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { zh } from "./lib/page.js";

const URL = "/api/v1/admin/classifier-rules";
const PER_PAGE = 50;
const FIELDS = { type: "类型", category: "分类", urgency: "紧急程度", police_matter: "涉警" };
const root = document.getElementById("admin-classifier-rules");
const filters = document.getElementById("rule-filters");
const tbody = document.querySelector("#rules tbody");
const pager = document.getElementById("pager");
const form = document.getElementById("rule-form");
const saved = form.querySelector('[role="status"]');
const cancel = document.getElementById("rule-cancel");
let values = {};
let rules = [];
let page = 1;
let editing = null;

function valueName(field, value) {
  if (field === "police_matter") return value === "true" ? "涉警" : "非涉警";
  const found = (values[field] || []).find((v) => v.code === value);
  return found ? found.name : zh(field, value);
}

function fillValues(select, field, withAll) {
  const options = (values[field] || []).map((v) => el("option", { value: v.code }, v.name));
  fill(select, withAll ? [el("option", { value: "" }, "全部"), options] : options);
}

function renderPage() {
  const pages = Math.max(1, Math.ceil(rules.length / PER_PAGE));
  page = Math.min(page, pages);
  const shown = rules.slice((page - 1) * PER_PAGE, page * PER_PAGE);
  fill(tbody, shown.map((r) => el("tr", { dataset: { id: String(r.id), phrase: r.phrase } },
    el("td", {}, FIELDS[r.field] || r.field),
    el("td", {}, valueName(r.field, r.value)),
    el("td", {}, r.phrase),
    el("td", {}, String(r.weight)),
    el("td", {}, r.active ? "启用" : "停用"),
    el("td", { class: "muted" }, r.note || ""),
    el("td", {},
      el("button", { type: "button", onclick: () => edit(r) }, "编辑"), " ",
      el("button", { type: "button", onclick: () => remove(r) }, "删除")))));
  const prev = el("button", { type: "button", disabled: page <= 1, onclick: () => { page -= 1; renderPage(); } }, "上一页");
  const next = el("button", { type: "button", disabled: page >= pages, onclick: () => { page += 1; renderPage(); } }, "下一页");
  fill(pager, prev, el("span", { class: "muted", "data-testid": "pager-status" },
    `第 ${page} / ${pages} 页，共 ${rules.length} 条`), next);
}

async function reload() {
  const query = queryOf(filters);
  const data = await api("GET", query ? `${URL}?${query}` : URL);
  rules = data.items;
  renderPage();
}

function reset() {
  editing = null;
  form.reset();
  fillValues(form.elements.value, form.elements.field.value);
  document.getElementById("rule-form-title").textContent = "新增规则";
  cancel.hidden = true;
}

function edit(rule) {
  editing = rule;
  form.elements.field.value = rule.field;
  fillValues(form.elements.value, rule.field);
  form.elements.value.value = rule.value;
  form.elements.phrase.value = rule.phrase;
  form.elements.weight.value = String(rule.weight);
  form.elements.note.value = rule.note || "";
  form.elements.active.checked = rule.active;
  document.getElementById("rule-form-title").textContent = `编辑规则“${rule.phrase}”`;
  cancel.hidden = false;
  showError(form, null);
  form.scrollIntoView({ block: "nearest" });
}

async function remove(rule) {
  if (!window.confirm(`删除短语“${rule.phrase}”的规则？出厂短语请改为停用。`)) return;
  try {
    await api("DELETE", `${URL}/${rule.id}`);
    saved.textContent = `已删除“${rule.phrase}”`;
    await reload();
  } catch (e) {
    showError(form, e);
  }
}

form.elements.field.addEventListener("change", () => fillValues(form.elements.value, form.elements.field.value));
cancel.addEventListener("click", reset);
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  page = 1;
  reload().catch((e) => showError(form, e));
});
filters.elements.value.addEventListener("change", () => {
  if (filters.elements.value.value) filters.elements.field.value = "category";
});

onSubmit(form, async () => {
  saved.textContent = "";
  const weight = form.elements.weight.value.trim();
  const body = {
    field: form.elements.field.value,
    value: form.elements.value.value,
    phrase: form.elements.phrase.value,
    weight: weight === "" ? null : Number(weight),
    active: form.elements.active.checked,
    note: form.elements.note.value.trim() || null,
  };
  const rule = editing
    ? await api("PUT", `${URL}/${editing.id}`, body)
    : await api("POST", URL, body);
  saved.textContent = `已保存“${rule.phrase}”`;
  reset();
  await reload();
});

async function load() {
  const tree = await api("GET", "/api/v1/categories");
  values = {
    type: ["complaint", "report", "consult", "help", "suggestion", "praise"].map((c) => ({ code: c, name: zh("type", c) })),
    category: tree.items.map((c) => ({ code: c.code, name: c.name })),
    urgency: ["normal", "urgent", "critical"].map((c) => ({ code: c, name: zh("urgency", c) })),
    police_matter: [{ code: "true", name: "涉警" }, { code: "false", name: "非涉警" }],
  };
  fillValues(filters.elements.value, "category", true);
  reset();
  await reload();
  root.dataset.ready = "true";
}

load().catch((e) => showError(form, e));
