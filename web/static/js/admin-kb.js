/* /admin/kb: the knowledge base by department (filtered, paged by the server), the expiry
 * warnings, an article's versions with the review step (publish or send back a department's
 * draft), two versions side by side with the server's word-level diff, writing a new article or
 * version, and retiring one. Everything through /api/v1/kb/...; a refusal is shown at the field
 * it names and nothing is saved. */
import { api } from "./lib/api.js";
import { onSubmit, pagedTable, showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { flattenTree } from "./lib/triage.js";

const KB = "/api/v1/kb";
const root = document.getElementById("admin-kb");
const filters = document.getElementById("kb-filters");
const detail = document.getElementById("detail");
const editor = document.getElementById("editor");
const reviewForm = document.getElementById("review-form");
const reviewDone = reviewForm.querySelector('[role="status"]');
let departments = {};
let categories = {};
let current = null; // the article open in the detail panel (its current or newest version)
let versions = []; // that article's versions, oldest first
let table = null;

const period = (from, to) => (from || to ? `${from || "不限"} 至 ${to || "不限"}` : "长期有效");
const departmentName = (code) => (code ? departments[code] || code : "（无）");
const categoryName = (code) => (code ? categories[code] || code : "（不限）");

function statusCell(item) {
  const parts = [];
  if (!item.active) parts.push("已停用");
  else if (!item.current_version) parts.push("尚未发布");
  else parts.push(`已发布 第 ${item.current_version} 版`);
  if (item.drafts.length) parts.push(el("span", { class: "kb-badge" }, `待审核 第 ${item.drafts.join("、")} 版`));
  if (item.expiry) parts.push(el("span", { class: "kb-badge" }, item.expiry.text));
  return parts.flatMap((p, i) => (i ? [" ", p] : [p]));
}

function row(item) {
  return el("tr", { dataset: { id: String(item.id) } },
    el("td", {}, item.title),
    el("td", {}, item.department_name || departmentName(item.department)),
    el("td", {}, item.category_name || categoryName(item.category)),
    el("td", {}, item.current_version ? `第 ${item.current_version} 版` : "—"),
    el("td", {}, statusCell(item)),
    el("td", {}, period(item.valid_from, item.valid_to)),
    el("td", {}, el("button", { type: "button", "data-testid": `open-${item.id}`, onclick: () => open(item.id) }, "查看")));
}

async function loadExpiring() {
  const data = await api("GET", `${KB}/expiring`);
  const box = document.getElementById("expiring");
  box.hidden = data.items.length === 0;
  fill(box.querySelector("ul"), data.items.map((item) => el("li", { class: item.expired ? "expired" : "" },
    el("a", { href: "#", onclick: (e) => { e.preventDefault(); open(item.id); } }, item.title),
    `（${item.department_name || departmentName(item.department)}）：${item.text}`)));
}

async function open(id) {
  showError(reviewForm, null);
  reviewDone.textContent = "";
  current = await api("GET", `${KB}/articles/${id}`);
  versions = await Promise.all(current.versions.map((v) => api("GET", `${KB}/articles/${id}?version=${v}`)));
  document.getElementById("detail-title").textContent = current.title;
  document.getElementById("detail-meta").textContent =
    `部门：${departmentName(current.department)} · 分类：${categoryName(current.category)} · ` +
    (current.current_version ? `现行第 ${current.current_version} 版` : "尚未发布") +
    (current.active ? "" : " · 已停用");
  fill(document.getElementById("versions"), versions.map((v) => el("tr", { dataset: { version: String(v.version) } },
    el("td", {}, `第 ${v.version} 版${v.version === current.current_version ? "（现行）" : ""}`),
    el("td", {}, v.title),
    el("td", {}, v.status_name + (v.review_note ? `：${v.review_note}` : "")),
    el("td", {}, period(v.valid_from, v.valid_to)),
    el("td", {}, new Date(v.created_at).toLocaleString("zh-CN")),
    el("td", {}, v.status === "draft" ? [
      el("button", { type: "button", "data-testid": `publish-${v.version}`, onclick: () => review(v, "publish") }, "发布"), " ",
      el("button", { type: "button", "data-testid": `reject-${v.version}`, onclick: () => review(v, "reject") }, "退回"),
    ] : ""))));
  const options = () => versions.map((v) => el("option", { value: String(v.version) }, `第 ${v.version} 版（${v.status_name}）`));
  const oldSelect = document.getElementById("diff-old");
  const newSelect = document.getElementById("diff-new");
  fill(oldSelect, options());
  fill(newSelect, options());
  const newest = versions[versions.length - 1].version;
  const base = current.current_version && current.current_version !== newest ? current.current_version : Math.max(1, newest - 1);
  oldSelect.value = String(base);
  newSelect.value = String(newest);
  document.getElementById("retire").disabled = !current.active;
  document.getElementById("diff").hidden = true;
  detail.hidden = false;
  if (versions.length > 1) await showDiff();
  detail.scrollIntoView({ block: "nearest" });
}

function runs(list, keep, mark, cls) {
  return list.filter((r) => r.op === "equal" || r.op === keep)
    .map((r) => (r.op === "equal" ? r.text : el(mark, { class: cls }, r.text)));
}

async function showDiff() {
  const oldV = document.getElementById("diff-old").value;
  const newV = document.getElementById("diff-new").value;
  const d = await api("GET", `${KB}/articles/${current.id}/diff?old=${oldV}&new=${newV}`);
  const q = (id) => detail.querySelector(`[data-testid="${id}"]`);
  document.getElementById("diff-old-title").textContent = `第 ${d.before.version} 版（${d.before.status_name}）`;
  document.getElementById("diff-new-title").textContent = `第 ${d.after.version} 版（${d.after.status_name}）`;
  fill(q("diff-title-before"), runs(d.title, "delete", "del", "diff-before"));
  fill(q("diff-title-after"), runs(d.title, "insert", "ins", "diff-after"));
  fill(q("diff-before"), runs(d.body, "delete", "del", "diff-before"));
  fill(q("diff-after"), runs(d.body, "insert", "ins", "diff-after"));
  const dates = Object.entries(d.fields).filter(([, f]) => f.changed)
    .map(([name, f]) => `${name === "valid_from" ? "生效日期" : "失效日期"}：${f.before || "不限"} → ${f.after || "不限"}`);
  document.getElementById("diff-fields").textContent = d.changed ? dates.join("；") : "两个版本内容相同";
  document.getElementById("diff").hidden = false;
}

async function review(version, action) {
  showError(reviewForm, null);
  reviewDone.textContent = "";
  try {
    const body = action === "reject" ? { note: reviewForm.elements.note.value } : undefined;
    await api("POST", `${KB}/articles/${current.id}/versions/${version.version}/${action}`, body);
    reviewForm.elements.note.value = "";
    await refresh(current.id);
    reviewDone.textContent = action === "publish" ? `第 ${version.version} 版已发布` : `第 ${version.version} 版已退回`;
  } catch (e) {
    showError(reviewForm, e);
  }
}

async function refresh(id) {
  await Promise.all([table.reload(), loadExpiring()]);
  if (id) await open(id);
}

function openEditor(article) {
  editor.reset();
  showError(editor, null);
  editor.dataset.article = article ? String(article.id) : "";
  document.getElementById("editor-title").textContent = article ? `为“${article.title}”写新版本` : "新建条目";
  if (article) {
    const latest = versions[versions.length - 1] || article;
    editor.elements.title.value = latest.title;
    editor.elements.body.value = latest.body;
    editor.elements.department.value = article.department || "";
    editor.elements.category.value = article.category || "";
    editor.elements.valid_from.value = latest.valid_from || "";
    editor.elements.valid_to.value = latest.valid_to || "";
  }
  editor.hidden = false;
  editor.elements.title.focus();
}

onSubmit(editor, async () => {
  const f = editor.elements;
  const body = {
    title: f.title.value, body: f.body.value,
    department: f.department.value || null, category: f.category.value || null,
    valid_from: f.valid_from.value || null, valid_to: f.valid_to.value || null,
  };
  const id = editor.dataset.article;
  const saved = id ? await api("PUT", `${KB}/articles/${id}`, body) : await api("POST", `${KB}/articles`, body);
  editor.hidden = true;
  await refresh(saved.id);
  reviewDone.textContent = `已保存第 ${saved.version} 版（${saved.status_name}）`;
});

document.getElementById("editor-cancel").addEventListener("click", () => { editor.hidden = true; });
document.getElementById("new-article").addEventListener("click", () => openEditor(null));
document.getElementById("revise").addEventListener("click", () => openEditor(current));
document.getElementById("diff-show").addEventListener("click", () => showDiff().catch((e) => showError(reviewForm, e)));
document.getElementById("retire").addEventListener("click", async () => {
  if (!window.confirm(`停用“${current.title}”？停用后不再被检索和用于答复，各版本仍可查阅。`)) return;
  try {
    await api("POST", `${KB}/articles/${current.id}/retire`);
    await refresh(current.id);
    reviewDone.textContent = "已停用";
  } catch (e) {
    showError(reviewForm, e);
  }
});

async function load() {
  const [deps, tree] = await Promise.all([api("GET", "/api/v1/departments"), api("GET", "/api/v1/categories")]);
  const active = deps.items.filter((d) => d.active);
  departments = Object.fromEntries(deps.items.map((d) => [d.code, d.name]));
  const cats = flattenTree(tree.items);
  categories = Object.fromEntries(cats.map((c) => [c.code, c.name]));
  const depOptions = () => active.map((d) => el("option", { value: d.code }, d.name));
  const catOptions = () => cats.map((c) => el("option", { value: c.code }, c.label));
  filters.elements.department.append(...depOptions());
  filters.elements.category.append(...catOptions());
  fill(editor.elements.department, el("option", { value: "" }, "（无）"), depOptions());
  editor.elements.category.append(...catOptions());
  table = pagedTable({ url: `${KB}/articles`, filters, body: document.querySelector("#articles tbody"),
    render: row, pager: document.getElementById("pager") });
  await Promise.all([table.reload(1), loadExpiring()]);
  root.dataset.ready = "true";
}

load().catch((e) => showError(editor, e));
