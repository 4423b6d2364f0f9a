/* The call-centre page (/calls): the board (calls waiting, longest wait, 15秒接通率 today, agents
 * by state, calls to unknown extensions) and the 漏接回拨 queue (deadline, overdue in red, a try
 * logged with its outcome). Everything through /api/v1/calls; refreshed every 10 s. */
import { api, describe } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime, percent } from "./lib/format.js";
import { zh } from "./lib/page.js";
import { toast } from "./lib/ui.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const canCallBack = $("calls").dataset.canCallBack === "true";
const OUTCOMES = ["reached", "no_answer", "busy", "unreachable"];

function seconds(s) {
  const n = Math.round(s || 0);
  return n >= 60 ? `${Math.floor(n / 60)} 分 ${n % 60} 秒` : `${n} 秒`;
}

async function loadBoard() {
  let b;
  try {
    b = await api("GET", "/api/v1/calls/board");
  } catch (e) {
    if (e.status !== 403) toast(describe(e), "error");
    return;
  }
  $("board-at").textContent = fmtTime(b.at);
  $("b-waiting").textContent = String(b.waiting);
  $("b-longest").textContent = seconds(b.longest_wait_s);
  $("b-rate").textContent = b.today.rate === null ? "—" : percent(b.today.rate);
  $("b-rate-counts").textContent = `${b.today.answered_15s} / ${b.today.entered_queue}`;
  $("b-missed").textContent = String(b.missed.owed);
  $("b-overdue").textContent = b.missed.overdue ? `其中超时 ${b.missed.overdue}` : "";
  $("b-states").textContent = Object.entries(b.agents_by_state)
    .map(([state, n]) => `${zh("agent_state", state)} ${n}`).join(" · ");
  fill($("b-agents"), b.agents.map((a) => el("tr", {},
    el("td", {}, a.extension), el("td", {}, a.name || "（未知分机）"),
    el("td", {}, zh("agent_state", a.state)), el("td", {}, fmtTime(a.since)))));
  fill($("b-unknown"), b.unknown_extension_calls.length
    ? b.unknown_extension_calls.map((c) => el("li", {},
      `分机 ${c.agent} · ${c.caller || "号码未显示"} · ${fmtTime(c.rang_at)} · ${zh("call_state", c.state)}`))
    : [el("li", { class: "muted" }, "无")]);
}

function tryForm(call) {
  if (!canCallBack) return el("span", { class: "muted" }, "—");
  const outcome = el("select", { "aria-label": "回拨结果", dataset: { testid: "missed-outcome" } },
    OUTCOMES.map((o) => el("option", { value: o }, zh("callback_outcome", o))));
  const note = el("input", { maxlength: 500, placeholder: "备注（可选）", "aria-label": "备注" });
  const save = el("button", { type: "button", dataset: { testid: "missed-save" } }, "记录");
  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      await api("POST", `/api/v1/calls/${enc(call.call_id)}/callback_attempts`,
        { outcome: outcome.value, note: note.value.trim() || null });
      toast(`已记录：${zh("callback_outcome", outcome.value)}`, "ok");
      await loadMissed();
    } catch (e) {
      toast(describe(e), "error");
      save.disabled = false;
    }
  });
  return el("div", { class: "try" }, outcome, note, save);
}

async function loadMissed() {
  let page;
  try {
    page = await api("GET", "/api/v1/calls?state=missed&limit=200");
    $("missed-error").hidden = true;
  } catch (e) {
    $("missed-error").hidden = false;
    $("missed-error").textContent = describe(e);
    return;
  }
  $("missed-empty").hidden = page.items.length > 0;
  fill($("missed-rows"), page.items.map((c) => el("tr", {
    class: c.overdue ? "overdue-row" : "", dataset: { testid: "missed-row", callId: c.call_id } },
  el("td", {}, el("strong", {}, c.caller || "号码未显示")),
  el("td", {}, fmtTime(c.ended_at)),
  el("td", {}, c.wait_s === null ? "—" : seconds(c.wait_s)),
  el("td", { class: c.overdue ? "overdue" : "" }, fmtTime(c.missed_deadline),
    c.overdue ? "（已超时）" : ""),
  el("td", { title: (c.attempts || []).map((a) => `${fmtTime(a.at)} ${a.by || ""} ${zh("callback_outcome", a.outcome)}`).join("\n") },
    String(c.callback_tries)),
  el("td", {}, tryForm(c)))));
}

loadBoard();
loadMissed();
setInterval(() => { loadBoard(); loadMissed(); }, 10000);
