/* The department workbench (/department): the handler's inbox for their department in four
 * tabs — to sign for, in hand, extension requests, completed — with countdowns, and the ticket
 * panel (#<number>) with sign for, return with a reason, request an extension, notes between
 * the lead and the co-handlers, and complete with photos. Only what the API gives this user:
 * their department's tickets, citizens masked. */
import { api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { arrowStep } from "./lib/keys.js";
import { arrivals, badgeTitle } from "./lib/notify.js";
import { BOOT, now, zh } from "./lib/page.js";
import { openSocket } from "./lib/socket.js";
import { ring } from "./lib/sound.js";
import { clockOf, myAssignment, myDelegation } from "./lib/tickets.js";
import {
  clockNode, explain, isVisible, listTickets, loadMany, loadTicket, renderTicket, statusBadge,
  tickClocks, urgencyBadge,
} from "./ticket-work.js";

const me = BOOT.me;

const rowsNode = document.getElementById("inbox-rows");
const status = document.getElementById("inbox-status");
const panel = document.getElementById("panel");
const tabs = Array.from(document.querySelectorAll("#tabs [role=tab]"));
const TAB_NAMES = ["sign", "handling", "extension", "done"];

let tab = "sign";
let current = null;
let loading = null;
let buckets = { sign: [], handling: [], extension: [], done: [] };
const known = new Set(); // numbers the inbox has shown (visible to this user)
const baseTitle = document.title;
const unseen = new Set(); // new dispatches to sign for, not yet looked at
let toSign = null; // the 待签收 numbers of the last read (null before the first)
let live = false; // the console feed is connected: no need to poll

// ---------------------------------------------------------------- the inbox

/** Which tabs a ticket belongs to, from this department's own assignment. */
function classify(view) {
  const a = myDelegation(view, me) || myAssignment(view, me); // a step delegated to us first
  if (!a) return [];
  const out = [];
  if (a.status === "dispatched") out.push("sign");
  if (a.status === "signed") out.push("handling");
  if (a.status === "completed") out.push("done");
  if ((view.extensions || []).some((x) => x.assignment_id === a.id)) out.push("extension");
  return out;
}

async function loadInbox(quiet) {
  if (loading) return loading;
  if (!quiet) status.textContent = zh("ui", "loading");
  const dept = encodeURIComponent(me.department || "");
  loading = (async () => {
    try {
      const [open, closed] = await Promise.all([
        // Every open ticket this department may see: its own assignments and the steps
        // delegated to it (下派); those of the departments below it fall out in classify.
        listTickets("status=DISPATCHED,SIGNED,COMPLETED", 200),
        api("GET", `/api/v1/tickets?status=REVIEWED,ARCHIVED,REOPENED&department=${dept}` +
          "&per_page=20"),
      ]);
      const full = await loadMany(open.map((t) => t.number), 6);
      const next = { sign: [], handling: [], extension: [], done: [] };
      for (const t of open) {
        const view = full.get(t.number);
        if (!view) continue;
        for (const name of classify(view)) next[name].push({ t, view });
      }
      for (const t of closed.items) next.done.push({ t, view: null });
      const due = (r) => {
        const c = r.view && clockOf(myDelegation(r.view, me) || myAssignment(r.view, me));
        return c ? Date.parse(c.deadline) : Infinity;
      };
      for (const name of ["sign", "handling"]) next[name].sort((a, b) => due(a) - due(b));
      next.extension.sort((a, b) => Number(pending(b)) - Number(pending(a)));
      const signNumbers = next.sign.map((r) => r.t.number);
      const fresh = arrivals(toSign, signNumbers);
      toSign = new Set(signNumbers);
      for (const n of [...unseen]) if (!toSign.has(n)) unseen.delete(n);
      if (fresh.length) announce(fresh);
      buckets = next;
      known.clear();
      for (const t of [...open, ...closed.items]) known.add(t.number);
      for (const name of TAB_NAMES) {
        document.querySelector(`[data-count="${name}"]`).textContent = String(next[name].length);
      }
      renderRows();
      status.textContent = `更新于 ${fmtTime(new Date(now()).toISOString())}`;
    } catch (e) {
      status.textContent = explain(e);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

// ---------------------------------------------------------------- new dispatches

/** New tickets to sign for: a title badge ("(1) 部门工作台"), a short tone, a line in the
 * status. */
function announce(numbers) {
  for (const n of numbers) unseen.add(n);
  showBadge();
  ring(document.getElementById("department"), 1); // the shared tone (lib/sound.js)
  const note = document.getElementById("arrival");
  note.textContent = `新派单：${numbers.join("、")}`;
  note.hidden = false;
}

function showBadge() {
  document.title = badgeTitle(baseTitle, unseen.size);
  document.querySelector('[data-count="sign"]').classList.toggle("fresh", unseen.size > 0);
}

function seen(numbers) {
  for (const n of numbers) unseen.delete(n);
  if (!unseen.size) document.getElementById("arrival").hidden = true;
  showBadge();
}

let soon = null;
/** A console event of this department's tickets: read the inbox again (once for a burst). */
function onTicketEvent() {
  clearTimeout(soon);
  soon = setTimeout(() => loadInbox(true), 300);
}

function setLive(up) {
  live = up;
  const node = document.getElementById("live");
  node.textContent = up ? "● 实时" : "○ 每分钟刷新";
  node.title = up ? "新派单即时推送" : "实时连接中断，改为每分钟刷新";
  node.classList.toggle("up", up);
}

function connect() {
  const socket = openSocket("/console", {
    onUp: () => {
      setLive(true);
      loadInbox(true); // what came while the connection was down
    },
    onDown: () => setLive(false),
  });
  if (socket) socket.on("ticket", onTicketEvent);
}

function pending(r) {
  const a = r.view && myAssignment(r.view, me);
  return Boolean(a && (r.view.extensions || []).some(
    (x) => x.assignment_id === a.id && x.status === "pending"));
}

function extensionCell(r) {
  const a = myAssignment(r.view, me);
  const mine = (r.view.extensions || []).filter((x) => x.assignment_id === a.id);
  const last = mine[mine.length - 1];
  return last ? el("span", { class: "badge ext-" + last.status },
    `${zh("extension_status", last.status)} ${last.days}天`) : "";
}

/** This department's own assignment's state (a co-handler's row is not "signed" because the
 * lead signed); the ticket's state in the tooltip. */
function assignmentBadge(a, ticketStatus) {
  return el("span", {
    class: "badge as-" + a.status, "data-testid": "assignment-status",
    title: `工单状态：${zh("status", ticketStatus)}`,
  }, zh("assignment_status", a.status));
}

function renderRows() {
  const rows = buckets[tab];
  if (!rows.length) {
    fill(rowsNode, el("tr", {}, el("td", { colspan: 6, class: "muted empty" },
      zh("ui", "empty"))));
    return;
  }
  fill(rowsNode, rows.map((r) => {
    const t = r.t;
    const a = r.view ? myDelegation(r.view, me) || myAssignment(r.view, me) : null;
    const open = () => {
      location.hash = encodeURIComponent(t.number);
    };
    return el("tr", {
      tabindex: 0, class: t.number === current ? "selected" : "", "data-testid": "inbox-row",
      dataset: { number: t.number },
      onclick: open,
      onkeydown: (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          open();
        }
      },
    },
    el("td", { title: t.number }, el("a", { href: "#" + encodeURIComponent(t.number) },
      t.number), " ", urgencyBadge(t.urgency)),
    el("td", { class: "text-cell", title: t.text }, t.text),
    el("td", {}, zh("type", t.type)),
    el("td", {}, a ? zh("assignment_role", a.role) : ""),
    el("td", { class: "nowrap" }, a ? assignmentBadge(a, t.status) : statusBadge(t.status),
      tab === "extension" && r.view ? [" ", extensionCell(r)] : null),
    el("td", {}, a ? clockNode(clockOf(a)) : ""));
  }));
}

function selectTab(name, focus) {
  tab = name;
  for (const button of tabs) {
    const on = button.dataset.tab === name;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
    button.classList.toggle("active", on);
    if (on && focus) button.focus();
  }
  document.getElementById("inbox-table").setAttribute("aria-labelledby", "tab-" + name);
  renderRows();
}

// ---------------------------------------------------------------- the ticket panel

function notFound(number) {
  fill(panel, el("div", { class: "panel not-found", role: "alert", "data-testid": "not-found" },
    el("strong", {}, "未找到工单"),
    el("p", {}, `编号 ${number} 不存在，或不是本部门承办的工单。`)));
}

async function openTicket(number) {
  current = number;
  seen([number]);
  renderRows();
  fill(panel, el("p", { class: "muted" }, zh("ui", "loading")));
  try {
    if (!(await isVisible(number, known))) {
      if (current === number) notFound(number);
      return;
    }
    const ticket = await loadTicket(number);
    if (current === number) await show(ticket);
  } catch (e) {
    if (current === number) fill(panel, el("p", { class: "error", role: "alert" }, explain(e)));
  }
}

async function show(ticket) {
  await renderTicket(panel, ticket, {
    me, capture: false, withLocation: false, withMap: false,
    onChanged: (view) => {
      show(view);
      loadInbox(true);
    },
    reload: () => openTicket(ticket.number),
  });
}

function route() {
  const number = decodeURIComponent(location.hash.replace(/^#\/?/, "")).trim();
  if (number) {
    openTicket(number);
  } else {
    current = null;
    renderRows();
  }
}

// ---------------------------------------------------------------- wiring

for (const button of tabs) {
  button.addEventListener("click", () => selectTab(button.dataset.tab));
  button.addEventListener("keydown", (ev) => {
    const next = arrowStep(ev.key, TAB_NAMES.indexOf(button.dataset.tab), TAB_NAMES.length);
    if (next !== null) {
      ev.preventDefault();
      selectTab(TAB_NAMES[next], true);
    }
  });
}
document.getElementById("refresh").addEventListener("click", () => loadInbox(false));
window.addEventListener("hashchange", route);
setInterval(() => tickClocks(document), 30000);
setInterval(() => { // the fallback while the console feed is down
  if (!live && document.visibilityState === "visible") loadInbox(true);
}, 60000);
document.getElementById("tab-sign").addEventListener("click", () => seen([...unseen]));
window.addEventListener("focus", () => {
  if (tab === "sign") seen([...unseen]);
});
setLive(false);
connect();
selectTab("sign");
loadInbox(false);
route();
