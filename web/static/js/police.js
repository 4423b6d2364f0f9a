/* The 110 desk's page: the transfers sent to 110 and those 110 sent to 12345 (both read through
 * GET /api/v1/tickets, scoped to the desk by the server), their state and clock; 接收 / 退回 /
 * 办结 with the cause through the ticket actions; the 首接 history (退回、仲裁) of a ticket.
 * Live: the console's Socket.IO feed (the desk's room: its transfers both ways) reads the list
 * again when one arrives or changes; a new transfer waiting for the desk gets a title badge and
 * a line and the console's two-beep tone (lib/sound.js); a poll every minute only while the
 * feed is down. */
import { api, describe } from "./lib/api.js";
import { span } from "./lib/clock.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { arrivals, badgeTitle } from "./lib/notify.js";
import { now, zh } from "./lib/page.js";
import { openSocket } from "./lib/socket.js";
import { ring } from "./lib/sound.js";
import { toast } from "./lib/ui.js";

const rows = document.getElementById("rows");
const panel = document.getElementById("panel");
const status = document.getElementById("police-status");
const HISTORY = new Set(["transfer_110", "police_accept", "police_reject", "police_complete",
  "call_transfer"]);
const OPEN = new Set(["pending", "accepted"]);
let tab = "to_110";
let tickets = [];
let selected = null;
let live = false; // the console feed is connected: no need to poll
let waiting = null; // the numbers waiting for the desk at the last read (null before the first)
const unseen = new Set(); // new transfers waiting for the desk, not yet looked at
const baseTitle = document.title;
const arrival = document.getElementById("arrival");

function direction(t) {
  return t.channel === "police110" ? "from_110" : "to_110";
}

function stateOf(t) {
  if (direction(t) === "to_110") return zh("police_state", t.police.state);
  return zh("status", t.status);
}

function clockOf(t) {
  const open = direction(t) === "to_110" ? OPEN.has(t.police.state)
    : !["ARCHIVED", "VOID", "MERGED"].includes(t.status);
  const since = direction(t) === "to_110" ? t.updated_at : t.created_at;
  if (!since) return { text: "", late: false };
  const waited = now() - Date.parse(since);
  if (!open) return { text: "于 " + fmtTime(since), late: false };
  return { text: "已 " + span(waited), late: t.police.state === "pending" && waited > 3600000 };
}

/** Transfers to 110 the desk has not yet accepted or rejected. */
function waitingNumbers(list) {
  return list.filter((t) => direction(t) === "to_110" && t.police.state === "pending")
    .map((t) => t.number);
}

async function load(quiet) {
  if (quiet !== true) status.textContent = zh("ui", "loading");
  try {
    const data = await api("GET", "/api/v1/tickets?per_page=100");
    tickets = data.items.filter((t) => t.channel === "police110" || t.police.state);
    const numbers = waitingNumbers(tickets);
    const fresh = arrivals(waiting, numbers);
    waiting = new Set(numbers);
    for (const n of [...unseen]) if (!waiting.has(n)) unseen.delete(n);
    for (const n of fresh) unseen.add(n);
    if (fresh.length) {
      arrival.textContent = `新转办：${fresh.join("、")}`;
      arrival.hidden = false;
      // The console's tone for a transfer (two beeps, lib/sound.js), counted on the page.
      ring(document.getElementById("police"), 2);
    }
    showBadge();
    render();
  } catch (e) {
    status.textContent = describe(e);
  }
}

function showBadge() {
  document.title = badgeTitle(baseTitle, unseen.size);
  if (!unseen.size) arrival.hidden = true;
}

function seen(numbers) {
  for (const n of numbers) unseen.delete(n);
  showBadge();
}

function render() {
  for (const key of ["to_110", "from_110"]) {
    document.querySelector(`[data-count="${key}"]`).textContent =
      String(tickets.filter((t) => direction(t) === key).length);
  }
  const shown = tickets.filter((t) => direction(t) === tab);
  status.textContent = shown.length ? `共 ${shown.length} 件` : "暂无转办工单";
  fill(rows, shown.map((t) => {
    const clock = clockOf(t);
    const cls = [t.number === selected ? "selected" : "", unseen.has(t.number) ? "fresh" : ""]
      .filter(Boolean).join(" ");
    return el("tr", {
      dataset: { number: t.number }, class: cls || null,
      tabindex: "0", onclick: () => open(t.number),
      onkeydown: (ev) => { if (ev.key === "Enter") open(t.number); },
    },
    el("td", {}, t.number),
    el("td", { class: "cell-text", title: t.text }, t.text),
    el("td", { "data-testid": "police-state" }, stateOf(t)),
    el("td", { class: clock.late ? "overdue" : null }, clock.text));
  }));
}

function historyOf(ticket) {
  const items = ticket.events.filter((e) => HISTORY.has(e.action));
  if (!items.length) return el("p", { class: "muted" }, "暂无转办记录");
  return el("ol", { class: "history", "data-testid": "police-history" }, items.map((e) => {
    const p = e.payload || {};
    const cause = p.cause || e.reason;
    return el("li", {},
      `${fmtTime(e.at, true)} ${zh("action", e.action)}`,
      e.actor_role ? `（${zh("role", e.actor_role)}）` : "",
      p.automatic ? " · 系统自动转出" : "",
      cause ? ` · 原因：${cause}` : "",
      p.arbitration ? ` · 仲裁意见：${p.arbitration}` : "",
      p.previous_cause ? ` · 前次退回原因：${p.previous_cause}` : "",
      p.incident_no ? ` · 警情编号：${p.incident_no}` : "",
      p.result ? ` · 处置结果：${p.result}` : "");
  }));
}

const FORMS = {
  police_accept: { field: "incident_no", label: "警情编号（可不填）", required: false },
  police_reject: { field: "reason", label: "退回原因（必填，如：非警情）", required: true },
  police_complete: { field: "result", label: "处置结果（必填）", required: true },
};

function actionForm(ticket, action) {
  const spec = FORMS[action];
  const input = el("input", { name: spec.field, placeholder: spec.label, "aria-label": spec.label,
    maxlength: spec.field === "incident_no" ? "64" : "500" });
  const error = el("p", { class: "error", role: "alert", "data-testid": "action-error" });
  const button = el("button", { type: "submit", "data-testid": action }, zh("action", action));
  const form = el("form", { "data-action": action, onsubmit: async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    error.textContent = "";
    if (spec.required && !value) {
      error.textContent = `请填写${spec.label.replace(/（.*）/, "")}`;
      input.focus();
      return;
    }
    const body = { version: ticket.version };
    if (value) body[spec.field] = value;
    button.disabled = true;
    try {
      await api("POST", `/api/v1/tickets/${encodeURIComponent(ticket.number)}/actions/${action}`,
        body);
      toast(`${ticket.number}：${zh("action", action)}`, "success");
      await load();
      await open(ticket.number);
    } catch (e) {
      error.textContent = describe(e);
      button.disabled = false;
    }
  } }, input, button, error);
  return form;
}

async function open(number) {
  selected = number;
  seen([number]);
  render();
  fill(panel, el("p", { class: "muted" }, zh("ui", "loading")));
  let ticket;
  try {
    ticket = await api("GET", `/api/v1/tickets/${encodeURIComponent(number)}`);
  } catch (e) {
    fill(panel, el("p", { class: "error" }, describe(e)));
    return;
  }
  const actions = (ticket.actions || []).filter((a) => a in FORMS);
  const dir = direction(ticket);
  fill(panel,
    el("h2", {}, ticket.number, " · ", dir === "to_110" ? "转给110" : "110 转来"),
    el("dl", {},
      el("dt", {}, "工单状态"), el("dd", {}, zh("status", ticket.status)),
      ticket.police.state ? [el("dt", {}, "110 状态"),
        el("dd", { "data-testid": "panel-police-state" },
          zh("police_state", ticket.police.state))] : null,
      ticket.police.incident_no ? [el("dt", {}, "警情编号"),
        el("dd", {}, ticket.police.incident_no)] : null,
      ticket.police.cause ? [el("dt", {}, "退回原因"), el("dd", {}, ticket.police.cause)] : null,
      el("dt", {}, "类型"), el("dd", {}, zh("type", ticket.type)),
      el("dt", {}, "地址"), el("dd", {}, ticket.address || "—"),
      el("dt", {}, "受理时间"), el("dd", {}, fmtTime(ticket.created_at, true))),
    el("div", { class: "demand", "data-testid": "demand" }, ticket.text),
    actions.length ? el("div", { class: "actions" }, el("h3", {}, "办理"),
      actions.map((a) => actionForm(ticket, a))) : null,
    el("h3", {}, "首接记录（转办、退回、仲裁）"),
    historyOf(ticket));
}

for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => {
    tab = button.dataset.tab;
    for (const b of document.querySelectorAll("[data-tab]")) {
      b.setAttribute("aria-selected", String(b === button));
    }
    render();
  });
}
// ---------------------------------------------------------------- live updates

let soon = null;
const touched = new Set(); // numbers the events of a burst were about

/** A console event of one of the desk's tickets: read the list again (once for a burst), and
 * the open ticket too if it changed, unless a cause is being typed into its form. */
function onTicketEvent(message) {
  const number = message && message.ticket && message.ticket.number;
  if (number) touched.add(number);
  clearTimeout(soon);
  soon = setTimeout(async () => {
    const changed = new Set(touched);
    touched.clear();
    await load(true);
    const typing = Array.from(panel.querySelectorAll("input")).some((i) => i.value.trim());
    if (selected && changed.has(selected) && !typing) open(selected);
  }, 300);
}

function setLive(up) {
  live = up;
  const node = document.getElementById("live");
  node.textContent = up ? "● 实时" : "○ 每分钟刷新";
  node.title = up ? "转办变化即时推送" : "实时连接中断，改为每分钟刷新";
  node.classList.toggle("up", up);
}

function connect() {
  const socket = openSocket("/console", {
    onUp: () => {
      setLive(true);
      load(true); // what came while the connection was down
    },
    onDown: () => setLive(false),
  });
  if (socket) socket.on("ticket", onTicketEvent);
}

document.getElementById("refresh").addEventListener("click", load);
setInterval(() => { // the fallback while the console feed is down
  if (!live && document.visibilityState === "visible") load(true);
}, 60000);
window.addEventListener("focus", () => {
  if (tab === "to_110") seen([...unseen]);
});
setLive(false);
connect();
load();
