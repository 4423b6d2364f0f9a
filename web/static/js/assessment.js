/* /assessment 月度考核: a month's assessment through GET /api/v1/stats/assessment (a department
 * gets its own row only), the two rankings, a department's score breakdown and each deduction's
 * tickets (read masked, /api/v1/tickets/<n>?masked=1); a department appeals one of them (photos
 * uploaded to the ticket through /api/v1/appeals/photos, then POST /api/v1/appeals); the office
 * decides the appeals (POST /api/v1/appeals/<id>/decide) and publishes the month. */
import { api, describe } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime, percent } from "./lib/format.js";
import { BOOT, zh } from "./lib/page.js";
import { toast } from "./lib/ui.js";

const root = document.getElementById("assessment");
const monthInput = document.getElementById("month");
const stateLine = document.getElementById("state");
const errorLine = document.getElementById("error");
const history = document.getElementById("history");
const detail = document.getElementById("detail");
const publishButton = document.getElementById("publish");
const exportLink = document.getElementById("export");
const appealBox = document.getElementById("appeal-box");
const appealForm = document.getElementById("appeal-form");
const appealError = document.getElementById("appeal-error");
const appealRows = document.getElementById("appeals");
let report = null;
let selected = null;

function showError(target, e) {
  target.textContent = e ? describe(e) : "";
  target.hidden = !e;
}

function rankText(row) {
  return row.rank === "not ranked" ? "不参与排名" : `第 ${row.rank} 名`;
}

function describeState(r) {
  if (r.state !== "published") {
    return `${r.month} · 未发布（当前数据，截至 ${fmtTime(r.computed_at, true)}）` +
      (r.finished ? "" : " · 本月尚未结束");
  }
  const p = r.publication;
  return `${r.month} · 已发布（第 ${p.number} 次，${fmtTime(p.published_at, true)}，` +
    `${p.published_by || "—"}）· 申诉截止 ${fmtTime(r.appeal_deadline, true)}` +
    (r.appeals_open ? "" : "（已截止）");
}

function renderRankings() {
  for (const group of ["functional", "territorial"]) {
    const body = document.getElementById(`rank-${group}`);
    const rows = report.departments.filter((r) => r.group === group);
    fill(body, rows.length ? rows.map((r) => el("tr", {
      class: r.department === selected ? "selected" : null,
      dataset: { department: r.department },
      onclick: () => select(r.department),
    }, el("td", { class: r.ranked ? null : "not-ranked" }, rankText(r)),
    el("td", {}, r.name), el("td", { class: "num" }, String(r.assignments)),
    el("td", { class: "num" }, r.score.toFixed(2)))) : el("tr", {}, el("td", { colspan: 4, class: "muted" }, "暂无")));
  }
}

async function showTickets(list, numbers, row) {
  fill(list, numbers.map((n) => el("li", { dataset: { number: n } }, n)));
  const mine = BOOT.department === row.department;
  const canAppeal = mine && report.state === "published" && report.appeals_open;
  for (const item of list.children) {
    const number = item.dataset.number;
    try {
      const t = await api("GET", `/api/v1/tickets/${encodeURIComponent(number)}?masked=1`);
      fill(item, el("strong", {}, number), ` · ${zh("status", t.status)} · ${(t.text || "").slice(0, 60)}`);
    } catch (e) {
      fill(item, el("strong", {}, number), ` · ${describe(e)}`);
    }
    if (canAppeal && !row.excluded.includes(number)) {
      item.append(" ", el("button", { type: "button", dataset: { testid: "appeal-open" },
        onclick: () => openAppeal(number) }, "申诉"));
    }
  }
}

function select(code) {
  selected = code;
  renderRankings();
  const row = report.departments.find((r) => r.department === code);
  if (!row) {
    fill(detail, el("p", { class: "muted" }, "本月没有该部门的考核数据。"));
    return;
  }
  const items = el("table", {}, el("thead", {}, el("tr", {},
    ["项目", "权重/扣分规则", "计数", "比率", "得分", "失分"].map((h) => el("th", { scope: "col" }, h)))),
  el("tbody", {}, row.items.map((i) => el("tr", {},
    el("td", {}, zh("assessment_item", i.item)),
    el("td", {}, i.weight !== undefined ? `${i.weight} 分` : `每件 ${i.per} 分，最多 ${i.cap} 分`),
    el("td", {}, i.denominator !== undefined ? `${i.numerator} / ${i.denominator}` : `${i.count} 件`),
    el("td", {}, i.rate === undefined ? "—" : percent(i.rate)),
    el("td", { class: "num" }, String(i.points)),
    el("td", { class: i.lost ? "num lost" : "num" }, i.lost ? `−${i.lost}` : "0")))));
  const deductions = row.deductions.map((d) => {
    const list = el("ul", { class: "tickets", hidden: true });
    const button = el("button", { type: "button", class: "link", dataset: { testid: "deduction" },
      onclick: () => {
        list.hidden = !list.hidden;
        if (!list.hidden && !list.children.length) showTickets(list, d.tickets, row);
      } }, `${d.label}：−${d.points} 分（${d.count} 件）`);
    return el("div", { class: "deduction" }, button, list);
  });
  fill(detail,
    el("h2", {}, `${row.name} · ${rankText(row)}${row.ranked ? `（共 ${row.of} 个）` : ""} · 得分 ${row.score.toFixed(2)} / ${report.max_score}`),
    el("p", { class: "muted small" }, `本月派单 ${row.assignments} 件` +
      (row.ranked ? "" : `，不足 ${report.scheme.min_assignments} 件，不参与排名`) +
      (row.excluded.length ? `；申诉核减：${row.excluded.join("、")}` : "")),
    items,
    el("h3", {}, "扣分明细（点击查看工单）"),
    deductions.length ? deductions : el("p", { class: "muted" }, "本月无扣分。"));
}

function openAppeal(number) {
  appealForm.elements.ticket.value = number;
  appealForm.elements.reason.value = "";
  appealForm.elements.photos.value = "";
  showError(appealError, null);
  appealBox.hidden = false;
  appealForm.elements.reason.focus();
}

appealForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(appealError, null);
  const number = appealForm.elements.ticket.value;
  try {
    const ids = [];
    for (const file of appealForm.elements.photos.files) {
      const form = new FormData();
      form.append("file", file, file.name || "photo");
      ids.push((await api("POST", `/api/v1/appeals/photos?ticket=${encodeURIComponent(number)}`, form)).id);
    }
    await api("POST", "/api/v1/appeals", { month: report.month, department: BOOT.department,
      ticket: number, reason: appealForm.elements.reason.value, attachments: ids });
    appealBox.hidden = true;
    toast(`已就工单 ${number} 提交申诉`);
    await loadAppeals();
  } catch (e) {
    showError(appealError, e);
  }
});
document.getElementById("appeal-cancel").addEventListener("click", () => { appealBox.hidden = true; });

function decideCell(a) {
  if (!BOOT.office || a.state !== "pending") {
    return a.decision_reason ? `${a.decided_by || ""}：${a.decision_reason}` : "—";
  }
  const reason = el("input", { type: "text", maxlength: 2000, placeholder: "处理理由",
    dataset: { testid: "decide-reason" } });
  const message = el("span", { class: "error", role: "alert" });
  const decide = async (accept) => {
    message.textContent = "";
    try {
      await api("POST", `/api/v1/appeals/${a.id}/decide`, { accept, reason: reason.value });
      toast(accept ? "已采纳，考核结果已重新发布" : "已驳回");
      await load(report.month);
    } catch (e) {
      message.textContent = describe(e);
    }
  };
  return el("div", { class: "decide" }, reason,
    el("button", { type: "button", dataset: { testid: "accept" }, onclick: () => decide(true) }, "采纳"),
    el("button", { type: "button", dataset: { testid: "reject" }, onclick: () => decide(false) }, "驳回"),
    message);
}

async function loadAppeals() {
  const data = await api("GET", `/api/v1/appeals?month=${encodeURIComponent(report.month)}`);
  fill(appealRows, data.items.length ? data.items.map((a) => el("tr", { dataset: { id: String(a.id) } },
    el("td", {}, String(a.id)), el("td", {}, a.department_name || a.department),
    el("td", {}, a.ticket), el("td", {}, a.reason, a.attachments.map((id, k) => [" ",
      el("a", { href: `/api/v1/attachments/${encodeURIComponent(id)}`, target: "_blank",
        rel: "noopener" }, `照片 ${k + 1}`)])),
    el("td", {}, zh("appeal_state", a.state)), el("td", {}, decideCell(a))))
    : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "暂无申诉")));
}

async function load(month) {
  showError(errorLine, null);
  try {
    report = await api("GET", `/api/v1/stats/assessment?month=${encodeURIComponent(month)}`);
  } catch (e) {
    showError(errorLine, e);
    return;
  }
  monthInput.value = report.month;
  stateLine.textContent = describeState(report);
  fill(history, (report.publications || []).map((p) => el("li", {},
    `第 ${p.number} 次发布：${fmtTime(p.published_at, true)}，${p.published_by || "—"}` +
    (p.reason ? `（${p.reason}）` : ""))));
  exportLink.href = `/api/v1/stats/assessment/export?month=${encodeURIComponent(report.month)}`;
  publishButton.hidden = !BOOT.office || !report.finished;
  publishButton.textContent = report.state === "published" ? "重新发布" : "发布考核结果";
  const own = report.departments.find((r) => r.department === BOOT.department);
  const keep = report.departments.find((r) => r.department === selected);
  const first = own || keep || report.departments.find((r) => r.ranked) || report.departments[0];
  if (first) select(first.department);
  else { renderRankings(); fill(detail, el("p", { class: "muted" }, "本月没有考核数据。")); }
  await loadAppeals();
  root.dataset.ready = "true";
}

publishButton.addEventListener("click", async () => {
  const again = report.state === "published";
  const reason = again ? window.prompt("重新发布的原因（将记录并向各部门显示）", "") : null;
  if (again && reason === null) return;
  if (!again && !window.confirm(`发布 ${report.month} 的考核结果？发布后结果锁定，各部门 5 个工作日内可申诉。`)) return;
  try {
    const done = await api("POST", `/api/v1/stats/assessment/${report.month}/publish`,
      again && reason.trim() ? { reason } : {});
    toast(`已发布（第 ${done.number} 次）`);
    await load(report.month);
  } catch (e) {
    showError(errorLine, e);
  }
});

document.getElementById("pick").addEventListener("submit", (event) => {
  event.preventDefault();
  if (monthInput.value) load(monthInput.value);
});

load(new URLSearchParams(window.location.search).get("month") || BOOT.month);
