/* The grid worker's phone page (/worker): my open assignments first, with their countdowns,
 * then the open tickets of my duty cells; a ticket view (#<number>) with the demand, the place
 * on a small map, the timeline with photos, and the actions the API offers now: sign for,
 * return with a reason, record progress with photos, complete with photos and the current
 * location. Everything is read and done through /api/v1, which scopes and masks. */
import { api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { BOOT, now, zh } from "./lib/page.js";
import {
  clockOf, leadAssignment, myAssignment, myDelegation, OPEN_ASSIGNMENT,
} from "./lib/tickets.js";
import {
  clockNode, explain, isVisible, listTickets, loadMany, loadTicket, renderTicket, statusBadge,
  tickClocks, urgencyBadge,
} from "./ticket-work.js";
import { patrolForm } from "./patrol.js";

const me = BOOT.me;

const listView = document.getElementById("list-view");
const detailView = document.getElementById("detail-view");
const detail = document.getElementById("detail");
const openList = document.getElementById("open-list");
const doneList = document.getElementById("done-list");
const status = document.getElementById("list-status");
const refresh = document.getElementById("refresh");
const patrolView = document.getElementById("patrol-view");

let current = null; // the number shown in the ticket view
const known = new Set(); // numbers the list has shown (visible to this user)
let loading = null;

// ---------------------------------------------------------------- the list

/** What I hold on a ticket: a step delegated to me (下派) first, else my assignment. */
function mineOf(view) {
  return myDelegation(view, me) || myAssignment(view, me);
}

/** One ticket of the list; `scope` is "mine" (assigned to me), "cell" (in my duty cells) or
 * null (closed: no clock, no badge). */
function card(t, full, scope) {
  const mine = full ? mineOf(full) : null;
  const clock = !full ? null
    : scope === "mine" ? clockOf(mine) : clockOf(leadAssignment(full));
  return el("li", {},
    el("a", { href: "#" + encodeURIComponent(t.number), class: "card",
      "data-testid": "ticket-card", dataset: { number: t.number } },
      el("div", { class: "card-top" },
        el("span", { class: "card-number" }, t.number), " ",
        urgencyBadge(t.urgency),
        el("span", { class: "card-clock" }, clockNode(clock))),
      el("div", { class: "card-text" }, t.text),
      el("div", { class: "card-meta muted" },
        statusBadge(t.status), " ",
        scope === "mine" ? el("span", { class: "badge mine" }, "指派给我")
          : scope === "cell" ? el("span", { class: "badge" }, "网格内") : null, " ",
        t.address || "")));
}

async function loadList(quiet) {
  if (loading) return loading;
  if (!quiet) status.textContent = zh("ui", "loading");
  loading = (async () => {
    try {
      const [open, done] = await Promise.all([
        listTickets("status=DISPATCHED,SIGNED", 100),
        api("GET", "/api/v1/tickets?status=COMPLETED,REVIEWED,ARCHIVED&per_page=10"),
      ]);
      const full = await loadMany(open.map((t) => t.number), 4);
      const rows = open.map((t) => {
        const view = full.get(t.number);
        const a = view ? mineOf(view) : null;
        const mine = Boolean(a && OPEN_ASSIGNMENT.includes(a.status));
        const clock = mine ? clockOf(a) : clockOf(view && leadAssignment(view));
        return { t, view, mine, due: clock ? Date.parse(clock.deadline) : Infinity };
      });
      // Assigned to me first, then the nearest deadline first.
      rows.sort((a, b) => Number(b.mine) - Number(a.mine) || a.due - b.due);
      known.clear();
      for (const t of [...open, ...done.items]) known.add(t.number);
      fill(openList, rows.length ? rows.map((r) => card(r.t, r.view, r.mine ? "mine" : "cell"))
        : el("li", { class: "empty muted" }, "暂无待办任务"));
      fill(doneList, done.items.length
        ? done.items.map((t) => card(t, null, null))
        : el("li", { class: "empty muted" }, zh("ui", "empty")));
      const count = rows.filter((r) => r.mine).length;
      status.textContent = `指派给我 ${count} 件，网格内其他 ${rows.length - count} 件 · ` +
        `更新于 ${fmtTime(new Date(now()).toISOString())}`;
    } catch (e) {
      status.textContent = explain(e);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

// ---------------------------------------------------------------- the ticket view

function showList() {
  current = null;
  detailView.hidden = true;
  patrolView.hidden = true;
  listView.hidden = false;
  document.title = `我的任务 · ${zh("ui", "app")}`;
  loadList(true);
}

function notFound(number) {
  fill(detail, el("div", { class: "panel not-found", role: "alert", "data-testid": "not-found" },
    el("strong", {}, "未找到工单"), el("p", {}, `编号 ${number} 不存在，或不在您的任务和网格范围内。`)));
}

/** 巡查上报: the patrol form; after filing, the new ticket's view. */
function showPatrol() {
  current = null;
  listView.hidden = true;
  detailView.hidden = true;
  patrolView.hidden = false;
  document.title = `巡查上报 · ${zh("ui", "app")}`;
  patrolForm(document.getElementById("patrol"), {
    onDone: (ticket) => {
      known.add(ticket.number);
      location.hash = encodeURIComponent(ticket.number);
    },
    onCancel: () => {
      location.hash = "";
    },
  });
}

async function openTicket(number) {
  current = number;
  patrolView.hidden = true;
  listView.hidden = true;
  detailView.hidden = false;
  fill(detail, el("p", { class: "muted" }, zh("ui", "loading")));
  window.scrollTo(0, 0);
  try {
    if (!(await isVisible(number, known))) {
      if (current === number) notFound(number);
      return;
    }
    const ticket = await loadTicket(number);
    if (current === number) await show(ticket);
  } catch (e) {
    if (current === number) {
      fill(detail, el("p", { class: "error", role: "alert" }, explain(e)));
    }
  }
}

async function show(ticket) {
  document.title = `${ticket.number} · ${zh("ui", "app")}`;
  await renderTicket(detail, ticket, {
    me, capture: true, withLocation: true, withMap: true,
    onChanged: (view) => show(view),
    reload: () => openTicket(ticket.number),
  });
}

function route() {
  const number = decodeURIComponent(location.hash.replace(/^#\/?/, "")).trim();
  if (number === "patrol") showPatrol();
  else if (number) openTicket(number);
  else showList();
}

// ---------------------------------------------------------------- wiring

refresh.addEventListener("click", () => loadList(false));
window.addEventListener("hashchange", route);
setInterval(() => tickClocks(document), 30000);
setInterval(() => {
  if (!listView.hidden && document.visibilityState === "visible") loadList(true);
}, 60000);
route();
