/* The console's emergency alarms (DOMAIN.md, Triage): a demand judged an emergency on an
 * unattended channel (WeChat, Open311, the web page) raises an alarm that stays on top of the
 * board, sounding again every few seconds, until a dispatcher acknowledges it
 * (POST …/actions/acknowledge_alarm); unacknowledged after 60 s the server escalates it to the
 * supervisors (the ticket's `alarm` becomes "escalated").
 *
 * The board's ticket summaries carry `alarm` (null, "raised", "escalated", "acknowledged"),
 * `alarm_raised_at` and `version`; this module keeps those waiting and draws the banner. */
import { api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { now } from "./lib/page.js";
import { busy, toast } from "./lib/ui.js";

const WAITING = new Set(["raised", "escalated"]);
const REPEAT_MS = 8000; // the sound again while an alarm waits

/** Whether a ticket summary has an alarm nobody acknowledged yet. */
export function waiting(t) {
  return Boolean(t && t.open !== false && WAITING.has(t.alarm));
}

/** Seconds an alarm has waited at `nowMs` (never negative). */
export function waitedSeconds(t, nowMs) {
  const raised = Date.parse(t.alarm_raised_at || "");
  return Number.isNaN(raised) ? 0 : Math.max(0, Math.round((nowMs - raised) / 1000));
}

/**
 * The alarm banner. options: {node, canAcknowledge, beep(times), open(number),
 * acknowledged(number)}. Returns {sync(tickets), changed(summary)}.
 */
export function create(options) {
  const { node } = options;
  const alarms = new Map(); // number -> summary, the waiting ones
  let repeat = null;

  function sound(times) {
    options.beep(times);
    node.dataset.sounded = String(Number(node.dataset.sounded || 0) + 1);
  }

  function keepSounding() {
    if (alarms.size && repeat === null) {
      repeat = setInterval(() => alarms.size && sound(3), REPEAT_MS);
    } else if (!alarms.size && repeat !== null) {
      clearInterval(repeat);
      repeat = null;
    }
  }

  async function acknowledge(button, t) {
    try {
      await busy(button, () => api("POST",
        `/api/v1/tickets/${encodeURIComponent(t.number)}/actions/acknowledge_alarm`,
        { version: t.version }));
      alarms.delete(t.number);
      toast(`${t.number}：警报已确认`, "ok");
      draw();
      options.acknowledged(t.number);
    } catch (e) {
      // busy() showed why; read again: someone else may have acknowledged it meanwhile.
      options.acknowledged(t.number);
    }
  }

  function item(t) {
    const escalated = t.alarm === "escalated";
    return el("li", { class: "alarm-item" + (escalated ? " escalated" : ""),
      dataset: { number: t.number, testid: "alarm-" + t.number } },
    el("strong", {}, "紧急警报"), " ",
    el("button", { type: "button", class: "link-button", onclick: () => options.open(t.number) },
      t.number), " ",
    el("span", { class: "snippet" }, (t.text || "").slice(0, 60)), " ",
    el("span", { class: "waited", dataset: { raised: t.alarm_raised_at || "" } },
      `已等待 ${waitedSeconds(t, now())} 秒`),
    escalated ? el("span", { class: "badge escalated" }, "已升级督办员") : null,
    options.canAcknowledge ? el("button", { type: "button", class: "danger ack",
      onclick: (ev) => acknowledge(ev.currentTarget, t) }, "确认警报") : null);
  }

  function draw() {
    const list = [...alarms.values()].sort((a, b) =>
      (a.alarm_raised_at || "").localeCompare(b.alarm_raised_at || ""));
    node.hidden = !list.length;
    node.dataset.count = String(list.length);
    fill(node, list.length ? el("ol", { class: "alarm-list" }, list.map(item)) : []);
    keepSounding();
  }

  setInterval(() => {
    for (const span of node.querySelectorAll(".waited[data-raised]")) {
      span.textContent = `已等待 ${waitedSeconds({ alarm_raised_at: span.dataset.raised },
        now())} 秒`;
    }
  }, 1000);

  return {
    /** The board was (re)read: these are all the tickets. */
    sync(tickets) {
      alarms.clear();
      for (const t of tickets) if (waiting(t)) alarms.set(t.number, t);
      draw();
      if (alarms.size) sound(3);
    },
    /** One ticket changed (a live event). */
    changed(t) {
      const was = alarms.get(t.number);
      if (waiting(t)) alarms.set(t.number, t);
      else alarms.delete(t.number);
      draw();
      if (waiting(t) && (!was || was.alarm !== t.alarm)) sound(3);
    },
  };
}
