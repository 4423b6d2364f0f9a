/* The screen pop of the operator's page (话务受理): calls ringing the operator's extension
 * arrive on the Socket.IO namespace /console as `call` events (web/hooks/cti.py). The pop shows
 * the number, the caller's history and open tickets, a callback owed and a missed call of
 * theirs waiting; later events of the call update it (通话中, ended with its duration, the
 * recording, played through the server). During the call 一键转110 / 三方通话 send the
 * transfer to the call centre (queued and retried when it is down: the operator is told).
 * The operator says 示闲 / 示忙 from the bar. User text reaches the DOM only as text. */
import { api, describe } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { zh } from "./lib/page.js";
import { openSocket } from "./lib/socket.js";
import { toast } from "./lib/ui.js";

const enc = encodeURIComponent;
const calls = { current: null, logged: new Set() };

/** The call a demand logged now belongs to (its id goes with the intake), or null. */
export function callIdForIntake() {
  const c = calls.current;
  return c && !calls.logged.has(c.call_id) ? c.call_id : null;
}

/** The demand of this call was logged (a second one is not sent with its id). */
export function markLogged(callId) {
  if (callId) calls.logged.add(callId);
}

function seconds(s) {
  if (s === null || s === undefined) return "—";
  const n = Math.round(s);
  return n >= 60 ? `${Math.floor(n / 60)} 分 ${n % 60} 秒` : `${n} 秒`;
}

function ticketLine(t) {
  return el("li", { dataset: { testid: "pop-ticket" } },
    el("strong", {}, t.number), " ",
    el("span", { class: "badge" }, zh("status", t.status)), " ",
    el("span", { class: "ti-text" }, t.text || ""));
}

function panel() {
  let box = document.getElementById("call-pop");
  if (box) return box;
  box = el("section", { id: "call-pop", class: "panel", role: "region", "aria-live": "assertive",
    "aria-label": "来电弹屏", dataset: { testid: "call-pop" }, hidden: true,
    style: "border-left: 4px solid #c0392b; margin: 0 0 12px; padding: 8px 12px" });
  const anchor = document.getElementById("result") || document.getElementById("pane-call");
  anchor.parentNode.insertBefore(box, anchor);
  return box;
}

function render(call) {
  const box = panel();
  box.hidden = false;
  const answered = call.state === "answered";
  const transferBusy = Boolean(call.transfer_requested_to || call.transfer_to);
  const sections = [
    el("div", { class: "result-main" },
      el("span", { class: "result-label" }, "来电"),
      el("strong", { class: "result-number", dataset: { testid: "pop-caller" } },
        call.caller || "（号码未显示）"),
      el("span", { class: "badge", dataset: { testid: "pop-state" } },
        zh("call_state", call.state)),
      call.duration_s !== null && call.duration_s !== undefined
        ? el("span", { dataset: { testid: "pop-duration" } }, " 通话时长 ", seconds(call.duration_s))
        : null,
      el("button", { type: "button", class: "link-button", onclick: () => { box.hidden = true; } },
        "收起")),
  ];
  if (call.missed_waiting && call.missed_waiting.length) {
    sections.push(el("p", { class: "danger", dataset: { testid: "pop-missed" } },
      `此号码有 ${call.missed_waiting.length} 个漏接来电待回拨（最早时限 `,
      fmtTime(call.missed_waiting[0].deadline), "），本次通话可一并答复 ",
      el("button", { type: "button", dataset: { testid: "pop-missed-settle" },
        onclick: (ev) => settleMissed(call, ev.target) }, "已在本次通话中答复")));
  }
  if (call.callback_owed && call.callback_owed.length) {
    sections.push(el("p", { class: "danger", dataset: { testid: "pop-callback" } },
      "待回访工单：", call.callback_owed.join("、")));
  }
  if (call.open_tickets) {
    sections.push(el("h3", {}, `未办结工单（${call.open_tickets.length}）`),
      call.open_tickets.length
        ? el("ol", { class: "tickets", dataset: { testid: "pop-open" } }, call.open_tickets.map(ticketLine))
        : el("p", { class: "muted" }, "无"));
  }
  if (call.history) {
    sections.push(el("h3", {}, "来电历史"),
      call.history.length
        ? el("ol", { class: "tickets", dataset: { testid: "pop-history" } }, call.history.map(ticketLine))
        : el("p", { class: "muted", dataset: { testid: "pop-first" } }, "首次来电"));
  }
  if (answered && !transferBusy) {
    sections.push(el("p", {},
      el("button", { type: "button", class: "danger", dataset: { testid: "pop-transfer" },
        onclick: (ev) => transfer(call, "blind", ev.target) }, "一键转110"), " ",
      el("button", { type: "button", dataset: { testid: "pop-three-way" },
        onclick: (ev) => transfer(call, "three_way", ev.target) }, "三方通话110")));
  }
  if (call.transfer_to) {
    sections.push(el("p", { dataset: { testid: "pop-transferred" } }, `已转接 ${call.transfer_to}`));
  } else if (call.transfer_requested_to) {
    sections.push(el("p", { dataset: { testid: "pop-transfer-asked" } },
      `已发出转接 ${call.transfer_requested_to} 的指令`, call.commandMessage ? `：${call.commandMessage}` : ""));
  }
  if (call.recording) {
    sections.push(el("p", {}, "录音：",
      el("audio", { controls: true, preload: "none", dataset: { testid: "pop-recording" },
        src: `/api/v1/calls/${enc(call.call_id)}/recording` })));
  }
  fill(box, sections);
}

/** The caller's missed calls were answered in this call: each gets a try 已接通 (logged). */
async function settleMissed(call, button) {
  button.disabled = true;
  try {
    for (const missed of call.missed_waiting) {
      await api("POST", `/api/v1/calls/${enc(missed.call_id)}/callback_attempts`,
        { outcome: "reached", note: `来电人再次来电（${call.call_id}）时已答复` });
    }
    toast(`已记录 ${call.missed_waiting.length} 个漏接来电为已答复`, "ok");
    call.missed_waiting = [];
    render(call);
  } catch (e) {
    toast(describe(e), "error");
    button.disabled = false;
  }
}

async function transfer(call, mode, button) {
  button.disabled = true;
  try {
    const answer = await api("POST", `/api/v1/calls/${enc(call.call_id)}/transfer`,
      { to: "110", mode });
    Object.assign(call, answer.call, { commandMessage: answer.command.message,
      transfer_requested_to: answer.call.transfer_requested_to });
    toast(answer.command.message, answer.command.state === "sent" ? "ok" : "error");
    render(call);
  } catch (e) {
    toast(describe(e), "error");
    button.disabled = false;
  }
}

function agentBar() {
  const bar = el("div", { class: "agent-bar", dataset: { testid: "agent-bar" },
    style: "margin: 4px 0 8px" },
  "坐席状态：", el("span", { class: "badge", id: "agent-state", dataset: { testid: "agent-state" } }, "—"),
  " ", el("button", { type: "button", dataset: { testid: "agent-idle" }, onclick: () => setState("idle") }, "示闲"),
  " ", el("button", { type: "button", dataset: { testid: "agent-busy" }, onclick: () => setState("busy") }, "示忙"),
  " ", el("a", { href: "/calls", dataset: { testid: "missed-link" } }, "漏接回拨队列"));
  const anchor = document.getElementById("result") || document.getElementById("pane-call");
  anchor.parentNode.insertBefore(bar, anchor);
  return bar;
}

async function setState(state) {
  try {
    const row = await api("PUT", "/api/v1/calls/agent_state", { state });
    document.getElementById("agent-state").textContent = zh("agent_state", row.state);
  } catch (e) {
    toast(describe(e), "error");
  }
}

const SOCKET_CLIENT = "/static/vendor/socket.io-4.8.1/socket.io.min.js";

/** The vendored Socket.IO client: the page's own script tag's, or loaded now. */
function socketClient() {
  if (typeof globalThis.io === "function") return Promise.resolve(globalThis.io);
  return new Promise((resolve, reject) => {
    const script = el("script", { src: SOCKET_CLIENT });
    script.addEventListener("load", () => resolve(globalThis.io));
    script.addEventListener("error", reject);
    document.head.appendChild(script);
  });
}

/** Listen for calls ringing this operator's extension; `onCaller(phone)` fills the form. */
export async function startCallPop({ onCaller }) {
  agentBar();
  let client;
  try {
    client = await socketClient();
  } catch {
    toast("来电弹屏不可用：无法加载实时连接组件", "error");
    return;
  }
  const mark = (up) => { document.body.dataset.callPop = up ? "up" : "down"; };
  // (Re)connected: a call that rang while the page was away pops now.
  const catchUp = () => api("GET", "/api/v1/calls/current").then((answer) => {
    if (answer.call) onCall(answer.call);
    mark(true);
  }).catch(() => mark(true));
  const socket = openSocket("/console", { onUp: catchUp, onDown: () => mark(false) }, client);
  if (!socket) return;
  socket.on("call", onCall);

  function onCall(message) {
    const known = calls.current && calls.current.call_id === message.call_id;
    const pops = message.event === "ringing" || message.event === "current";
    if (message.event === "current" && known) {
      Object.assign(calls.current, message);
    } else if (pops || !known) {
      if (!pops) return; // a call popped elsewhere
      calls.current = { ...message };
      if (message.caller) onCaller(message.caller);
      toast(`来电 ${message.caller || ""}`, "ok");
    } else {
      Object.assign(calls.current, message);
    }
    if (message.state === "answered") {
      document.getElementById("agent-state").textContent = zh("agent_state", "on_call");
    } else if (message.state === "ended") {
      document.getElementById("agent-state").textContent = zh("agent_state", "wrap_up");
    }
    render(calls.current);
  }
}
