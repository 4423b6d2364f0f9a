/* /admin/audit: the ticket events (操作事件), the admin changes (管理变更, before → after per
 * field) and the reads of unmasked personal data (个人信息查阅), filtered and paged by the
 * server through /api/v1/admin/audit, and the same filtered list as an Excel download. */
import { ApiError, describe } from "./lib/api.js";
import { pagedTable, queryOf, showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";

const URL_LIST = "/api/v1/admin/audit";
const URL_EXPORT = "/api/v1/admin/audit.xlsx";
const root = document.getElementById("admin-audit");
const form = document.getElementById("audit-filters");
const kindInput = document.getElementById("audit-kind");
const head = document.getElementById("audit-head");
const rows = document.getElementById("audit-rows");
const empty = document.getElementById("audit-empty");
const note = document.getElementById("export-note");
const exportButton = document.getElementById("audit-export");
const pager = document.getElementById("audit-pager");

const HEADS = {
  events: ["时间", "操作人", "工单编号", "操作", "状态", "摘要"],
  changes: ["时间", "操作人", "对象", "名称/编码", "操作", "变更内容（原值 → 新值）"],
  reads: ["时间", "查阅人", "工单 / 联系记录", "查阅内容"],
};

function cell(...children) {
  return el("td", {}, ...children);
}

function when(item) {
  return cell(el("time", { datetime: item.at }, fmtTime(item.at, true)));
}

function who(item) {
  return cell(el("span", { title: item.username || "" }, item.user));
}

function changeList(changes) {
  if (!changes.length) return "（无字段变化）";
  return el("ul", { class: "audit-changes" }, changes.map((c) => el("li", {},
    `${c.field_name}：`,
    el("span", { class: "diff-before" }, c.before ?? "（无）"),
    " → ",
    el("span", { class: "diff-after" }, c.after ?? "（无）"))));
}

const RENDER = {
  events: (item) => el("tr", { dataset: { id: String(item.id) } },
    when(item), who(item), cell(item.ticket), cell(item.action_name),
    cell(item.from_status && item.from_status !== item.to_status
      ? `${item.from_status} → ${item.to_status}` : item.to_status),
    el("td", { class: "audit-summary" }, item.summary)),
  changes: (item) => el("tr", { dataset: { id: String(item.id) } },
    when(item), who(item), cell(item.subject_name), cell(item.key_name), cell(item.action_name),
    cell(changeList(item.changes))),
  reads: (item) => el("tr", { dataset: { id: String(item.id) } },
    when(item), who(item), cell(item.ticket || item.contact || ""),
    cell(item.field_names.join("、"))),
};

let kind = "events";

// Registered before pagedTable's own submit handler, which it stops: a refused filter is
// shown beside the form instead of failing that handler unseen.
form.addEventListener("submit", (event) => {
  event.preventDefault();
  event.stopImmediatePropagation();
  load(1);
});

const table = pagedTable({
  url: URL_LIST,
  filters: form,
  body: rows,
  render: (item) => RENDER[kind](item),
  pager,
});

async function load(page) {
  showError(form, null);
  try {
    const data = await table.reload(page);
    empty.hidden = data.items.length > 0;
    note.textContent = data.total > data.export_limit
      ? `筛选结果共 ${data.total} 条，超过导出上限 ${data.export_limit} 条：导出的文件只含最新的 ${data.export_limit} 条，请缩小筛选范围。`
      : "";
    return data;
  } catch (e) {
    rows.replaceChildren();
    pager.replaceChildren();
    empty.hidden = true;
    note.textContent = "";
    showError(form, e);
    return null;
  } finally {
    root.dataset.ready = "true";
  }
}

function showKind(next) {
  kind = next;
  kindInput.value = next;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.kind === next;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    if (on) document.getElementById("audit-panel").setAttribute("aria-labelledby", tab.id);
  }
  for (const label of form.querySelectorAll("label[data-for]")) {
    const on = label.dataset.for.split(" ").includes(next);
    label.hidden = !on;
    for (const input of label.querySelectorAll("input, select")) input.disabled = !on;
  }
  fill(head, el("tr", {}, HEADS[next].map((h) => el("th", { scope: "col" }, h))));
  rows.replaceChildren();
  return load(1);
}

async function download() {
  showError(form, null);
  exportButton.disabled = true;
  try {
    const query = queryOf(form);
    const response = await fetch(`${URL_EXPORT}?${query}`, { credentials: "same-origin" });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      const e = (data && data.error) || {};
      throw new ApiError(response.status, e.code || "error", e.message || `HTTP ${response.status}`, e.field);
    }
    const blob = await response.blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `审计-${kind}.xlsx` });
    const named = /filename\*=UTF-8''([^;]+)/.exec(response.headers.get("Content-Disposition") || "");
    if (named) link.download = decodeURIComponent(named[1]);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (e) {
    showError(form, e instanceof ApiError ? e : new Error(describe(e)));
  } finally {
    exportButton.disabled = false;
  }
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => showKind(tab.dataset.kind));
}
form.addEventListener("reset", () => setTimeout(() => { kindInput.value = kind; load(1); }, 0));
exportButton.addEventListener("click", download);
showKind("events");
