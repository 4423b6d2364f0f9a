/* 定责: the hotline office's queue of disputed tickets — each with its demand, the returns (who,
 * when, why) and the notes (opinions asked and given); dispatchers and supervisors ask the
 * departments' opinions (a note) and decide the lead with a reason and the returns judged
 * unfounded (decide_lead). Leaders read. Everything goes through /api/v1.
 *
 * `mount(root, { office })` draws the queue into `root` (its [data-dispute-list] and
 * [data-dispute-status]) and returns { load } to read it again: the page /disputes
 * (disputes-page.js) and the console's 定责 tab (console.js) mount it. */
import { api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { zh } from "./lib/page.js";
import { actorOf } from "./lib/people.js";
import { toast } from "./lib/ui.js";
import { explain, listTickets, loadMany, refs } from "./ticket-work.js";

function returnsOf(view, names) {
  return (view.assignments || []).filter((a) => a.role === "lead" && a.status === "returned")
    .map((a) => el("li", { "data-testid": "dispute-return" },
      `${a.department_name || names.dept[a.department] || a.department} 退单：${a.return_reason || "—"}`));
}

function notesOf(view) {
  return (view.events || []).filter((e) => e.action === "note" && e.payload && e.payload.text)
    .map((e) => el("li", {}, `${fmtTime(e.at)} ${actorOf(e).text}（${zh("role", e.actor_role)}）：` +
      e.payload.text));
}

function card(view, names, office, act) {
  const error = el("div", { class: "error", role: "alert" });
  const returners = [...new Set((view.assignments || [])
    .filter((a) => a.role === "lead" && a.status === "returned").map((a) => a.department))];
  const forms = [];
  if (office && (view.actions || []).includes("decide_lead")) {
    const opinion = el("textarea", { rows: 2, maxlength: 4000, required: true,
      placeholder: "请相关部门在工单中说明意见…", "data-testid": "opinion-text" });
    const ask = el("form", { "data-testid": "ask-opinion" }, opinion,
      el("button", { type: "submit" }, "征求意见"));
    ask.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await act(view, "note", { text: opinion.value.trim() }, error);
    });
    const lead = el("select", { required: true, "data-testid": "decide-lead" },
      el("option", { value: "" }, "选择主办单位"),
      Object.entries(names.dept).map(([code, name]) => el("option", { value: code }, name)));
    const reason = el("input", { type: "text", required: true, maxlength: 2000,
      placeholder: "定责理由", "data-testid": "decide-reason" });
    const boxes = returners.map((code) => el("input", { type: "checkbox", value: code }));
    lead.addEventListener("change", () => {
      for (const b of boxes) b.checked = b.value === lead.value; // default: the lead's return
    });
    const decide = el("form", { "data-testid": "decide-form" }, lead, reason,
      el("span", {}, "退单不实：", boxes.map((b) => el("label", { class: "check" }, b,
        names.dept[b.value] || b.value))),
      el("button", { type: "submit", class: "primary", "data-testid": "decide-submit" }, "定责"));
    decide.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await act(view, "decide_lead", { lead: lead.value, reason: reason.value.trim(),
        unfounded: boxes.filter((b) => b.checked).map((b) => b.value) }, error);
    });
    forms.push(ask, decide);
  }
  return el("article", { class: "dispute", "data-testid": "dispute", dataset: { number: view.number } },
    el("h2", {}, view.number, " ", el("span", { class: "muted" },
      `${names.cat[view.category] || view.category || ""} · 受理 ${fmtTime(view.created_at)}`)),
    el("p", { class: "demand" }, view.text),
    el("h3", {}, "退单经过"), el("ol", {}, returnsOf(view, names)),
    el("h3", {}, "各方意见"), el("ol", {}, notesOf(view)),
    forms, error);
}

/** Draw the queue into `root` and keep it current after each action; { load }. */
export function mount(root, { office = false } = {}) {
  const list = root.querySelector("[data-dispute-list]");
  const status = root.querySelector("[data-dispute-status]");

  async function act(view, action, body, errorNode) {
    errorNode.textContent = "";
    try {
      await api("POST", `/api/v1/tickets/${encodeURIComponent(view.number)}/actions/${action}`,
        { version: view.version, ...body });
      toast(`${zh("action", action)}：已提交`, "ok");
      await load();
    } catch (e) {
      errorNode.textContent = explain(e);
    }
  }

  async function load() {
    try {
      const [names, items] = await Promise.all([refs(),
        listTickets("status=RETURNED&disputed=true", 200)]);
      const full = await loadMany(items.map((t) => t.number), 4);
      const views = items.map((t) => full.get(t.number)).filter(Boolean);
      fill(list, views.length ? views.map((v) => card(v, names, office, act))
        : el("p", { class: "muted empty" }, "暂无待定责工单"));
      status.textContent = `待定责 ${views.length} 件`;
      root.dataset.count = String(views.length);
    } catch (e) {
      status.textContent = explain(e);
    }
  }

  load();
  return { load };
}
