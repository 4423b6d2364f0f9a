/* The dispatcher's live console (调度台): the board of open tickets in their queues, kept live
 * over Socket.IO (namespace /console), with countdowns, sound and highlight for urgent tickets
 * and 110 transfers, the map (console-map.js) and the ticket drawer (console-drawer.js).
 *
 * Live data: GET /api/v1/console/board gives every open ticket the user may see and the feed
 * head `seq`; then the socket's `ticket` events ({seq, type, action, at, ticket}) change the
 * board. The seqs held are tracked (lib/feedseq.js): a duplicate is dropped; a hole (41 held,
 * 43 arrives) is filled by `resume` from the lowest missing seq, half a second later if it has
 * not arrived meanwhile; on every connect, on the server's `resync` (its Redis subscriber was
 * away) and every minute the page resumes from there too, so nothing is lost across a
 * reconnect or a Redis restart. An event older than what a ticket already shows (per-ticket
 * seq) changes nothing; the live feed list is kept in seq order. */
import { create as createAlarms } from "./console-alarms.js";
import { create as createDrawer } from "./console-drawer.js";
import { create as createMap } from "./console-map.js";
import { api, describe } from "./lib/api.js";
import { countdown as countdownAt } from "./lib/clock.js";
import { el, fill } from "./lib/dom.js";
import {
  accept, createTracker, insertionIndex, lowestMissing, reset as resetFeed, resumeAfter, settle,
} from "./lib/feedseq.js";
import { fmtTime } from "./lib/format.js";
import { BOOT, now, zh } from "./lib/page.js";
import { openSocket } from "./lib/socket.js";
import { audioContext, ring } from "./lib/sound.js";
import { boardOrder, STATUS_GROUPS } from "./lib/tickets.js";

const QUEUES = ["alarm", "to_dispatch", "returned", "extension", "review", "overdue",
  "supervised", "transfer"];
const MAX_ROWS = 500; // rows drawn at once; the filters narrow the rest
const FEED_MAX = 60; // entries of the live feed kept on screen
const SEEN_MAX = 5000; // closed tickets remembered (their last seq)
const RESUME_EVERY_MS = 60000; // the safety-net resume
const GAP_WAIT_MS = 500; // a missing seq may still come live (another process's relay)
const FLASH_MS = 4000;
const ALERT_URGENCY = new Set(["urgent", "critical"]);

const root = document.getElementById("console");
const rowsNode = document.getElementById("rows");
const noteNode = document.getElementById("board-note");
const tabsNode = document.getElementById("tabs");
const connNode = document.getElementById("conn");
const feedNode = document.getElementById("feed");
const soundButton = document.getElementById("sound");
const boardWrap = document.getElementById("board").parentElement;
const disputesNode = document.getElementById("disputes"); // the 定责 tab's panel (its roles only)
const DISPUTES = "disputes";
let disputes = null; // the mounted 定责 queue ({ load })
const filters = {
  street: document.getElementById("f-street"),
  urgency: document.getElementById("f-urgency"),
  text: document.getElementById("f-text"),
};

const state = {
  tickets: new Map(), // number -> summary (with its own seq)
  gone: new Map(), // number -> the seq at which it left the board (closed)
  feed: createTracker(0), // the seqs held: what `resume` asks after, which are missing
  gapTimer: null,
  queue: "all",
  selected: null,
  fresh: new Map(), // number -> {until, urgent}: rows to highlight
  loaded: false,
  truncated: false, // the board holds only the newest tickets (the server's limit)
};
const rowCache = new Map(); // number -> {ticket, fresh, tr}
let clockShift = 0; // ms the board's server_now says now() is behind
let renderTimer = null;
let socket = null;

// ------------------------------------------------------------ clocks

/** A countdown on the server's clock as the board last read it. */
function countdown(deadline, warnAt, suspended) {
  return countdownAt(deadline, warnAt, now() + clockShift, suspended);
}

function tickClocks() {
  for (const node of document.querySelectorAll(".clock[data-deadline]")) {
    const cd = countdown(node.dataset.deadline, node.dataset.warn || null,
      node.dataset.suspended || null);
    if (node.textContent !== cd.text) node.textContent = cd.text;
    const cls = "clock " + cd.state;
    if (node.className !== cls) node.className = cls;
  }
}

// ------------------------------------------------------------ sound

let soundOn = readSetting("console.sound") !== "off";

function readSetting(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (e) {
    return null; // storage disabled: the default
  }
}

function writeSetting(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (e) {
    // storage disabled: the choice lasts for this page only
  }
}

function showSound() {
  soundButton.setAttribute("aria-pressed", soundOn ? "true" : "false");
  soundButton.textContent = soundOn ? "提示音：开" : "提示音：关";
}

/** An alert (an urgent ticket, a transfer to 110, an alarm): counted on the page, and the
 * shared short tone (lib/sound.js) unless the sound is off. */
function beep(times) {
  ring(root, times, soundOn);
}

soundButton.addEventListener("click", () => {
  soundOn = !soundOn;
  writeSetting("console.sound", soundOn ? "on" : "off");
  showSound();
  if (soundOn) audioContext(); // a click is the gesture that lets audio start
});
showSound();

// ------------------------------------------------------------ filtering and rendering

function matches(t) {
  if (filters.street.value && t.street !== filters.street.value) return false;
  if (filters.urgency.value && t.urgency !== filters.urgency.value) return false;
  const q = filters.text.value.trim().toLowerCase();
  if (q) {
    const hay = [t.number, t.text, t.address, t.category_name, t.street_name,
      t.community_name, t.cell_name, t.department_name, t.grid_worker, t.grid_worker_name,
      zh("status", t.status)].filter(Boolean).join(" ").toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

function freshness(number) {
  const f = state.fresh.get(number);
  if (!f) return "";
  if (f.until < Date.now()) {
    state.fresh.delete(number);
    return "";
  }
  return f.urgent ? "flash flash-urgent" : "flash";
}

function buildRow(t, fresh) {
  const open = (ev) => selectTicket(t.number, true, ev && ev.type === "keydown");
  const place = [t.street_name, t.community_name].filter(Boolean).join(" · ");
  const classes = ["ticket-row", "u-" + t.urgency, fresh,
    t.number === state.selected ? "selected" : "", t.overdue ? "is-overdue" : ""];
  return el("tr", {
    class: classes.filter(Boolean).join(" "), tabindex: 0,
    dataset: { number: t.number, status: t.status, queues: (t.queues || []).join(" ") },
    onclick: () => open(null),
    onkeydown: (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        open(ev);
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const next = ev.key === "ArrowDown" ? ev.currentTarget.nextElementSibling
          : ev.currentTarget.previousElementSibling;
        if (next) next.focus();
      }
    },
  },
  el("td", { class: "num" }, t.number,
    t.channel === "police110" ? el("span", { class: "badge police110" }, "110") : null,
    t.alarm === "raised" || t.alarm === "escalated"
      ? el("span", { class: "badge alarm" }, "警报") : null,
    t.auto_dispatched ? el("span", { class: "badge auto", title: "系统按置信度自动派单，可收回" },
      "智能派单") : null),
  el("td", {}, el("span", { class: "badge st-" + t.status }, zh("status", t.status)),
    t.supervised ? el("span", { class: "badge supervised" }, "督办") : null,
    t.extension_pending ? el("span", { class: "badge ext" }, "延期") : null),
  el("td", {}, el("span", { class: "badge " + t.urgency }, zh("urgency", t.urgency))),
  el("td", { class: "text" },
    el("div", { class: "cat" }, t.category_name || "未分类",
      t.type ? el("span", { class: "muted" }, " · " + zh("type", t.type)) : null),
    el("div", { class: "snippet", title: t.text || "" }, t.text || "")),
  el("td", { class: "place", title: place },
    t.street_name || t.community_name ? [el("div", {}, t.street_name || ""),
      el("div", { class: "muted small" }, t.community_name || "")]
      : el("span", { class: "muted" }, "未定位")),
  el("td", { class: "dept", title: t.department_name || "" },
    t.department_name || el("span", { class: "muted" }, "—"),
    // The grid worker by name (the summary's grid_worker_name), the username in the tooltip.
    t.grid_worker ? el("div", { class: "muted small", title: t.grid_worker,
      "data-testid": "row-worker" }, "网格员 " + (t.grid_worker_name || t.grid_worker)) : null),
  el("td", { class: "deadline" }, t.deadline ? [
    el("span", { class: "clock " + countdown(t.deadline, t.warn_at, t.suspended_until).state,
      dataset: { deadline: t.deadline, warn: t.warn_at || "", suspended: t.suspended_until || "" },
      title: fmtTime(t.deadline, true) },
    countdown(t.deadline, t.warn_at, t.suspended_until).text),
    el("div", { class: "muted small" }, zh("clock", t.clock)),
  ] : el("span", { class: "muted" }, "—")),
  el("td", { class: "small" }, fmtTime(t.created_at)));
}

function row(t) {
  const fresh = freshness(t.number);
  const cached = rowCache.get(t.number);
  if (cached && cached.ticket === t && cached.fresh === fresh &&
      cached.selected === (t.number === state.selected)) return cached.tr;
  const tr = buildRow(t, fresh);
  rowCache.set(t.number, { ticket: t, fresh, selected: t.number === state.selected, tr });
  return tr;
}

function rowFor(number) {
  return rowsNode.querySelector(`tr[data-number="${CSS.escape(number)}"]`);
}

function renderTabs(counts) {
  const tabs = [["all", "全部"], ...QUEUES.map((q) => [q, zh("queue", q)])];
  if (!tabsNode.childElementCount) {
    fill(tabsNode, tabs.map(([q, label]) => el("button", {
      type: "button", role: "tab", id: "tab-" + q, dataset: { queue: q },
      "aria-controls": "board",
      onclick: () => {
        state.queue = q;
        render();
      },
      onkeydown: (ev) => {
        if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
        const sib = ev.key === "ArrowRight" ? ev.currentTarget.nextElementSibling
          : ev.currentTarget.previousElementSibling;
        if (sib) {
          sib.focus();
          sib.click();
        }
      },
    }, el("span", { class: "label" }, label), " ", el("span", { class: "count" }, "0"))));
    if (disputesNode) tabsNode.append(disputesTab());
  }
  for (const button of tabsNode.children) {
    const q = button.dataset.queue;
    if (q === DISPUTES) {
      button.setAttribute("aria-selected", q === state.queue ? "true" : "false");
      button.tabIndex = q === state.queue ? 0 : -1;
      button.classList.toggle("active", q === state.queue);
      continue;
    }
    const on = q === state.queue;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
    button.classList.toggle("active", on);
    const count = button.querySelector(".count");
    count.textContent = String(counts[q] || 0);
    button.classList.toggle("has-items", (counts[q] || 0) > 0);
  }
}

// ------------------------------------------------------------ the 定责 tab

/** The 定责 tab: the hotline office's queue of disputed tickets (disputes.js, the same module
 * as the page /disputes), mounted when first opened and read again on each opening. */
function disputesTab() {
  const count = el("span", { class: "count", "data-testid": "disputes-count" }, "…");
  disputeCount = count;
  countDisputes();
  return el("button", {
    type: "button", role: "tab", id: "tab-" + DISPUTES, dataset: { queue: DISPUTES, testid: "tab-disputes" },
    "aria-controls": "disputes",
    onclick: async () => {
      state.queue = DISPUTES;
      render();
      if (!disputes) {
        const { mount } = await import("./disputes.js");
        disputes = mount(disputesNode, { office: Boolean(BOOT.office) });
        new MutationObserver(() => {
          count.textContent = disputesNode.dataset.count || "0";
        }).observe(disputesNode, { attributes: true, attributeFilter: ["data-count"] });
      } else {
        disputes.load();
      }
    },
    onkeydown: (ev) => {
      if (ev.key === "ArrowLeft" && ev.currentTarget.previousElementSibling) {
        ev.currentTarget.previousElementSibling.focus();
        ev.currentTarget.previousElementSibling.click();
      }
    },
  }, el("span", { class: "label" }, "定责"), " ", count);
}

let disputeCount = null; // the 定责 tab's count (its roles only)
let disputeCountTimer = null;

/** The 定责 tab's count, read from the API: at load, and after returns and decisions (which
 * are what move a ticket into or out of the queue), at most once a second. */
function countDisputes() {
  if (!disputeCount || disputeCountTimer) return;
  disputeCountTimer = setTimeout(async () => {
    disputeCountTimer = null;
    try {
      const data = await api("GET", "/api/v1/tickets?status=RETURNED&disputed=true&per_page=1");
      disputeCount.textContent = String(data.total);
    } catch {
      // the count stays as it was; the tab itself reports errors when opened
    }
  }, disputeCount.textContent === "…" ? 0 : 1000);
}

function render() {
  clearTimeout(renderTimer);
  renderTimer = null;
  if (disputesNode) {
    const onDisputes = state.queue === DISPUTES;
    disputesNode.hidden = !onDisputes;
    boardWrap.hidden = onDisputes;
  }
  const visible = [];
  const counts = { all: 0 };
  for (const t of state.tickets.values()) {
    if (!matches(t)) continue;
    counts.all += 1;
    for (const q of t.queues || []) counts[q] = (counts[q] || 0) + 1;
    if (state.queue === "all" || (t.queues || []).includes(state.queue)) visible.push(t);
  }
  visible.sort(boardOrder);
  renderTabs(counts);
  const shown = visible.slice(0, MAX_ROWS);
  const focused = document.activeElement && document.activeElement.closest &&
    document.activeElement.closest("tr[data-number]");
  rowsNode.replaceChildren(...shown.map(row));
  if (focused && !focused.isConnected) {
    const again = rowFor(focused.dataset.number);
    if (again) again.focus();
  }
  for (const number of rowCache.keys()) {
    if (!state.tickets.has(number)) rowCache.delete(number);
  }
  if (!state.loaded) noteNode.textContent = zh("ui", "loading");
  else if (!visible.length) noteNode.textContent = "暂无工单";
  else if (visible.length > shown.length) {
    noteNode.textContent = `共 ${visible.length} 条，仅显示前 ${MAX_ROWS} 条，请用筛选缩小范围`;
  } else noteNode.textContent = `共 ${visible.length} 条`;
  if (state.truncated) noteNode.textContent += "（看板只载入了最新的工单，更早的请在工单查询中查看）";
  root.dataset.count = String(visible.length);
  map.sync(visible);
}

function scheduleRender() {
  if (renderTimer === null) renderTimer = setTimeout(render, 30);
}

// ------------------------------------------------------------ live events

function setConnected(up) {
  connNode.textContent = zh("ui", up ? "connected" : "disconnected");
  connNode.classList.toggle("up", up);
  connNode.classList.toggle("down", !up);
  root.dataset.connected = up ? "true" : "false";
}

/** Apply one event to the board; true when it changed a ticket. */
function apply(ev) {
  const t = ev.ticket;
  if (!t || !t.number) return false;
  const current = state.tickets.get(t.number);
  const before = current ? current.seq : state.gone.get(t.number);
  if (before !== undefined && ev.seq <= before) return false; // older than what we show
  const summary = { ...t, seq: ev.seq };
  if (t.open === false) {
    state.tickets.delete(t.number);
    state.gone.set(t.number, ev.seq);
    if (state.gone.size > SEEN_MAX) state.gone.delete(state.gone.keys().next().value);
  } else {
    state.tickets.set(t.number, summary);
    state.gone.delete(t.number);
  }
  const urgent = ALERT_URGENCY.has(t.urgency) || ev.type === "transfer";
  if (t.open !== false && (!current || ["created", "transfer", "sla_warning",
    "sla_overdue"].includes(ev.type))) {
    state.fresh.set(t.number, { until: Date.now() + FLASH_MS, urgent });
    setTimeout(scheduleRender, FLASH_MS + 50);
  }
  if ((ev.type === "created" && ALERT_URGENCY.has(t.urgency)) || ev.type === "transfer") {
    const recent = !ev.at || now() - Date.parse(ev.at) < 120000;
    if (recent) beep(t.urgency === "critical" || ev.type === "transfer" ? 2 : 1);
  }
  drawer.changed(summary);
  alarms.changed(summary);
  return true;
}

/** The feed's label of an event: a transfer by its direction (转110 out, 110 转来 in). */
function feedLabel(ev) {
  if (ev.type === "transfer" && ev.action === "transfer_110") return zh("action", ev.action);
  return zh("event_type", ev.type);
}

function logEvent(ev) {
  const t = ev.ticket || {};
  const item = el("li", { class: "feed-item ev-" + ev.type, dataset: { seq: ev.seq } },
    el("time", { datetime: ev.at || "" }, fmtTime(ev.at || new Date(now()).toISOString())),
    " ",
    el("span", { class: "badge ev", "data-testid": "feed-type" }, feedLabel(ev)), " ",
    el("button", { type: "button", class: "link-button", onclick: () =>
      selectTicket(t.number, true) }, t.number || ""), " ",
    ev.action ? el("span", {}, zh("action", ev.action)) : null, " ",
    el("span", { class: "muted snippet" }, (t.text || "").slice(0, 60)));
  // Newest first, in seq order: an event that filled a hole goes below the newer ones.
  const seqs = [...feedNode.children].map((node) => Number(node.dataset.seq));
  feedNode.insertBefore(item, feedNode.children[insertionIndex(seqs, ev.seq)] || null);
  while (feedNode.childElementCount > FEED_MAX) feedNode.lastElementChild.remove();
}

function onTicketEvent(ev) {
  if (!ev || typeof ev.seq !== "number") return;
  if (!accept(state.feed, ev.seq)) return; // a duplicate (replay and live overlap)
  if (apply(ev)) {
    logEvent(ev);
    scheduleRender();
    if (ev.action === "return" || ev.action === "decide_lead") countDisputes();
  }
  if (lowestMissing(state.feed) !== null) fillGap();
}

/** A seq is missing below one held: resume from it, unless it arrives meanwhile. */
function fillGap() {
  if (state.gapTimer) return;
  state.gapTimer = setTimeout(() => {
    state.gapTimer = null;
    if (lowestMissing(state.feed) !== null) resume();
  }, GAP_WAIT_MS);
}

function resume() {
  if (!socket || !socket.connected) return;
  socket.emit("resume", { after_seq: resumeAfter(state.feed) });
}

function connect() {
  socket = openSocket("/console", {
    onUp: () => {
      setConnected(true);
      resume();
    },
    onDown: () => {
      setConnected(false);
    },
  });
  if (!socket) {
    setConnected(false);
    return;
  }
  socket.on("ticket", onTicketEvent);
  socket.on("resumed", (msg) => {
    const seq = msg && typeof msg.seq === "number" ? msg.seq : 0;
    if (msg && msg.reset) {
      // Too much missed (or a feed that is not ours): read the board afresh, then resume.
      loadBoard(true).then((ok) => ok && resume());
      return;
    }
    settle(state.feed, seq); // every event up to seq was replayed, or is not ours
    if (lowestMissing(state.feed) !== null) fillGap();
  });
  // This web process's Redis subscriber was away: events may have passed it by.
  socket.on("resync", () => resume());
  setInterval(resume, RESUME_EVERY_MS);
}

// ------------------------------------------------------------ board

/** Read the board; `reset`: start the feed over from its seq (the old one is not ours). */
async function loadBoard(reset) {
  try {
    const board = await api("GET", "/api/v1/console/board");
    if (reset) {
      resetFeed(state.feed, board.seq || 0);
      state.gone.clear();
    }
    if (board.server_now) {
      const shift = Date.parse(board.server_now) - now();
      clockShift = Math.abs(shift) > 2000 ? shift : 0;
    }
    state.tickets = new Map();
    for (const t of board.tickets || []) state.tickets.set(t.number, t);
    settle(state.feed, board.seq || 0);
    // The live feed starts with the last events (numbered, up to the board's seq), not empty.
    if (!feedNode.childElementCount) for (const ev of board.recent || []) logEvent(ev);
    state.loaded = true;
    state.truncated = Boolean(board.truncated);
    map.setTiles(board.map_tile_url);
    render();
    alarms.sync(state.tickets.values());
    root.dataset.ready = "true";
    return true;
  } catch (e) {
    noteNode.textContent = "看板加载失败：" + describe(e) + "（5 秒后重试）";
    setTimeout(() => loadBoard(reset).then((ok) => ok && (socket ? resume() : connect())),
      5000);
    return false;
  }
}

async function loadStreets() {
  try {
    const data = await api("GET", "/api/v1/grid/areas");
    const streets = (data.items || []).filter((a) => a.level === "street");
    filters.street.append(...streets.map((s) => el("option", { value: s.code }, s.name)));
  } catch (e) {
    // the street filter stays at 全部
  }
}

// ------------------------------------------------------------ selection and drawer

/** Open a ticket in the drawer; from the keyboard, the focus goes into the drawer. */
function selectTicket(number, focusMap, focusDrawer) {
  if (!number) return;
  state.selected = number;
  drawer.open(number);
  if (focusDrawer) document.getElementById("drawer-close").focus();
  if (focusMap) map.focus(number);
  scheduleRender();
}

const map = createMap(document.getElementById("map"), {
  onSelect: (number) => selectTicket(number, false),
});
const drawer = createDrawer({
  node: document.getElementById("drawer"),
  body: document.getElementById("drawer-body"),
  title: document.getElementById("drawer-title"),
  role: BOOT.me ? BOOT.me.role : "",
  summary: (number) => state.tickets.get(number) || null,
  countdown,
  // The feed brings the change to every console; ask now so this one sees it at once.
  onAction: () => resume(),
  onClose: () => {
    const number = state.selected;
    state.selected = null;
    render();
    // The focus was in the drawer (now hidden): give it back to the ticket's row.
    const active = document.activeElement;
    if (number && (!active || active === document.body ||
        document.getElementById("drawer").contains(active))) {
      const tr = rowFor(number);
      if (tr) tr.focus();
    }
  },
});
document.getElementById("drawer-close").addEventListener("click", () => drawer.close());
const alarms = createAlarms({
  node: document.getElementById("alarms"),
  canAcknowledge: ["dispatcher", "supervisor"].includes(BOOT.me ? BOOT.me.role : ""),
  beep,
  open: (number) => selectTicket(number, true),
  acknowledged: () => resume(),
});

function legend() {
  fill(document.getElementById("legend"), STATUS_GROUPS.map(
    ([group, statuses]) => el("span", { class: "legend-item" },
      el("i", { class: "tmarker sg-" + group }), statuses.map((s) => zh("status", s))
        .join("/"))));
}

for (const node of Object.values(filters)) {
  node.addEventListener(node.tagName === "INPUT" ? "input" : "change", scheduleRender);
}
document.addEventListener("keydown", (ev) => {
  const typing = ev.target.closest && ev.target.closest("input, textarea, select");
  if (ev.key === "/" && !typing) {
    ev.preventDefault();
    filters.text.focus();
  } else if (ev.key === "Escape" && drawer.number() && !typing) {
    drawer.close();
  }
});
window.addEventListener("resize", () => map.invalidate());

legend();
setConnected(false);
connNode.textContent = zh("ui", "loading");
loadStreets();
loadBoard().then((ok) => {
  if (ok) connect();
});
setInterval(tickClocks, 1000);
