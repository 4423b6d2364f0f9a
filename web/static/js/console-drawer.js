/* The console's ticket drawer: the full ticket (GET /api/v1/tickets/<n>) with its timeline,
 * location and routing reasons, repeats, assignments and clocks, extensions, suspensions, and
 * the actions this user may take now (the ticket's `actions`; a leader's console is read-only).
 *
 * Every user-provided text is put in the DOM as text (el), never as markup. */
import { api, ApiError, describe } from "./lib/api.js";
import { countdown as countdownAt } from "./lib/clock.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { now, zh } from "./lib/page.js";
import { distanceText, duration, metres as metresBetween } from "./lib/evidence.js";
import { actorOf, peopleOf, person } from "./lib/people.js";
import { candidateText, nextCandidate } from "./lib/review.js";
import { workerChoices } from "./lib/workers.js";
import { busy, toast } from "./lib/ui.js";

// Roles for whom the console only reads (DOMAIN.md: leaders read and drill down).
const READ_ONLY_ROLES = ["leader"];
// The actions offered as buttons, in this order (extension decisions sit by the extension).
const BUTTON_ACTIONS = [
  "acknowledge_alarm", "dispatch", "take_back", "review_accept", "review_reject", "merge",
  "transfer_110", "void", "urge", "supervise", "note",
];
const DANGER = new Set(["void", "transfer_110", "review_reject"]);

let departments = null; // Promise of [{code, name, kind, active}]
let categories = null; // Promise of [{code, name, depth}]

function loadDepartments() {
  departments = departments || api("GET", "/api/v1/departments")
    .then((d) => d.items.filter((x) => x.active))
    .catch((e) => {
      departments = null;
      throw e;
    });
  return departments;
}

function loadCategories() {
  categories = categories || api("GET", "/api/v1/categories").then((d) => {
    const out = [];
    const walk = (nodes, depth) => {
      for (const n of nodes) {
        out.push({ code: n.code, name: n.name, depth });
        walk(n.children || [], depth + 1);
      }
    };
    walk(d.items, 0);
    return out;
  }).catch((e) => {
    categories = null;
    throw e;
  });
  return categories;
}

/** Names of departments and categories by code (empty when they cannot be read). */
function refNames() {
  const byCode = (items) => Object.fromEntries(items.map((x) => [x.code, x.name]));
  return Promise.all([
    loadDepartments().then(byCode, () => ({})),
    loadCategories().then(byCode, () => ({})),
  ]).then(([dept, cat]) => ({ ...cat, ...dept }));
}

// The console's countdown (on the clock the board last read: options.countdown).
let countdown = (deadline, warnAt, suspended) => countdownAt(deadline, warnAt, now(), suspended);

function clock(deadline, warnAt, suspended) {
  if (!deadline) return el("span", { class: "muted" }, "—");
  const cd = countdown(deadline, warnAt, suspended || null);
  return el("span", { class: "clock " + cd.state,
    dataset: { deadline, warn: warnAt || "", suspended: suspended || "" },
    title: fmtTime(deadline, true) + (suspended ? `（挂起至 ${fmtTime(suspended, true)}）` : "") },
  cd.text);
}

function field(label, control, hint) {
  return el("label", { class: "field" }, el("span", {}, label), control,
    hint ? el("small", { class: "muted" }, hint) : null);
}

function reasonInput(required, placeholder) {
  return el("textarea", { name: "reason", rows: 2, maxlength: 2000, required,
    placeholder: placeholder || (required ? "必填" : "选填") });
}

function trimmed(node) {
  return node && node.value ? node.value.trim() : "";
}

function option(value, label, selected) {
  return el("option", { value, selected: selected || false }, label);
}

function section(title, ...children) {
  return el("section", { class: "drawer-section" }, el("h3", {}, title), ...children);
}

function dl(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined &&
    v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function list(items, cls) {
  if (!items || !items.length) return el("p", { class: "muted" }, zh("ui", "empty"));
  return el("ul", { class: cls || "reasons" }, items.map((r) => el("li", {}, r)));
}

/** A few payload fields a dispatcher wants to read on the timeline (people by name: `people`
 * from peopleOf). */
function payloadText(e, names, people) {
  const p = e.payload || {};
  const parts = [];
  if (p.lead) parts.push("主办：" + (names[p.lead] || p.lead));
  if (p.co_handlers && p.co_handlers.length) {
    parts.push("协办：" + p.co_handlers.map((c) => names[c] || c).join("、"));
  }
  if (p.grid_worker) parts.push("网格员：" + person(people, p.grid_worker, p.grid_worker_name).text);
  if (p.days) parts.push(`天数：${p.days}`);
  if (p.parent) parts.push("主单：" + p.parent);
  if (p.repeat_linked) parts.push("并入：" + p.repeat_linked);
  if (p.incident_no) parts.push("110 警情号：" + p.incident_no);
  if (p.cause) parts.push("原因：" + p.cause);
  if (p.satisfaction) parts.push(zh("satisfaction", p.satisfaction));
  if (p.result) parts.push("结果：" + p.result);
  if (p.answer) parts.push("答复：" + p.answer);
  if (p.text) parts.push(p.text);
  if (p.dispatched_by === "auto") parts.push("智能派单：" + (p.reasons || []).join("，"));
  if (p.arbitration) {
    parts.push(`仲裁（${p.arbitrated_by ? person(people, p.arbitrated_by, p.arbitrated_by_name).text : ""}）：` +
      p.arbitration);
  }
  if (p.numbers) parts.push("提示诉求人拨打：" + p.numbers.join("、"));
  if (p.waited_s !== undefined) parts.push(`警报等待 ${Math.round(p.waited_s)} 秒`);
  return parts.join("；");
}

/** The photos of an event's report: thumbnails that open the full image. */
function photos(ids) {
  if (!ids || !ids.length) return null;
  return el("div", { class: "photos", "data-testid": "completion-photos" }, ids.map((id) => {
    const src = `/api/v1/attachments/${encodeURIComponent(id)}`;
    return el("a", { href: src, target: "_blank", rel: "noopener", title: "查看原图" },
      el("img", { src, alt: `办结照片 ${id}`, loading: "lazy", class: "thumb" }));
  }));
}

/**
 * The drawer. options: {node, body, title, role, summary(number) (the board's summary or
 * null), countdown(deadline, warnAt), onAction(number, view), onClose()}.
 * Returns {open(number), close(), changed(summary), number()}.
 */
export function create(options) {
  const { node, body, title } = options;
  const readOnly = READ_ONLY_ROLES.includes(options.role);
  if (options.countdown) countdown = options.countdown;
  let current = null; // the ticket number shown
  let ticket = null; // its full view
  let openForm = null; // the action form that is open ("dispatch", "approve_extension:3", …)
  let stale = false; // a live event changed the ticket while a form was open
  let loading = 0;
  let opener = null;

  async function open(number) {
    if (current !== number) {
      openForm = null;
      opener = document.activeElement;
    }
    current = number;
    node.hidden = false;
    node.dataset.number = number;
    await load();
  }

  function close() {
    current = null;
    ticket = null;
    openForm = null;
    node.hidden = true;
    delete node.dataset.number;
    delete node.dataset.shown;
    const back = opener;
    opener = null;
    if (back && document.contains(back) && !back.closest("#rows")) back.focus();
    options.onClose(); // puts the focus back on the ticket's row when it came from there
  }

  async function load() {
    const number = current;
    const token = ++loading;
    if (!ticket || ticket.number !== number) {
      fill(title, number);
      fill(body, el("p", { class: "muted" }, zh("ui", "loading")));
    }
    try {
      const view = await api("GET", `/api/v1/tickets/${encodeURIComponent(number)}`);
      const names = await refNames();
      if (token !== loading || current !== number) return;
      ticket = view;
      stale = false;
      render(names);
    } catch (e) {
      if (token !== loading || current !== number) return;
      ticket = null;
      fill(body, el("p", { class: "error", role: "alert" },
        describe(e)));
    }
  }

  /** A live event about the ticket shown: reload it, or say so if a form is being filled. */
  function changed(summary) {
    if (!current || summary.number !== current || !ticket) return;
    if (summary.version === ticket.version && summary.status === ticket.status) return;
    if (openForm) {
      markStale();
      return;
    }
    load();
  }

  /** The ticket changed under an open form: what it would send is refused anyway (the
   * version moved), so say so and hold the form until the user reloads. */
  function markStale() {
    stale = true;
    const banner = body.querySelector(".stale");
    if (banner) banner.hidden = false;
    for (const b of body.querySelectorAll("form.action-form button[type=submit]")) {
      b.disabled = true;
      b.title = "工单已更新，请先刷新";
    }
  }

  function render(names) {
    const t = ticket;
    fill(title, t.number);
    node.dataset.shown = t.number; // rendered (data-number is set as soon as it opens)
    node.dataset.status = t.status;
    node.dataset.version = String(t.version);
    const where = t.location || {};
    const routing = t.routing || {};
    const citizen = t.citizen || {};
    const who = citizen.hidden ? "（保密）" : citizen.anonymous ? "（匿名）" :
      [citizen.name, citizen.phone].filter(Boolean).join(" ") || "—";
    const summary = options.summary(t.number) || {};
    const place = [summary.street_name || where.street, summary.community_name ||
      where.community, summary.cell_name || where.cell].filter(Boolean).join(" > ");
    const pending = (t.extensions || []).filter((x) => x.status === "pending");
    const actions = readOnly ? [] : (t.actions || []);

    fill(body,
      el("div", { class: "stale notice", role: "status", hidden: !stale },
        "此工单刚被更新。",
        el("button", { type: "button", onclick: () => { openForm = null; load(); } }, "刷新")),
      el("div", { class: "drawer-badges" },
        el("span", { class: "badge st-" + t.status, "data-testid": "drawer-status" },
          zh("status", t.status)),
        el("span", { class: "badge " + t.urgency }, zh("urgency", t.urgency)),
        el("span", { class: "badge" }, zh("channel", t.channel)),
        t.type ? el("span", { class: "badge" }, zh("type", t.type)) : null,
        t.police_matter ? el("span", { class: "badge police110" }, "涉警") : null,
        t.supervised ? el("span", { class: "badge supervised" }, "督办中") : null,
        t.supervise_deadline ? clock(t.supervise_deadline, null) : null),
      el("p", { class: "demand", "data-testid": "drawer-text" }, t.text),
      coReturnNotice(t),
      dl([
        ["分类", t.category ? names[t.category] || t.category : "未分类"],
        ["诉求人", who],
        ["地址", t.address],
        ["网格", place],
        ["受理", fmtTime(t.created_at, true)],
        ["主单", t.parent],
        ["子单", (t.children || []).join("、")],
        ["110", t.police && t.police.state ? [zh("police_state", t.police.state),
          t.police.incident_no, t.police.cause].filter(Boolean).join(" · ") : null],
      ]),
      actions.length ? actionBar(actions, t) : null,
      completionSection(t),
      pending.length || (t.extensions || []).length ? extensionsSection(t, actions) : null,
      (t.suspensions || []).length ? suspensionsSection(t, actions) : null,
      section("定位依据",
        (where.flags || []).length ? el("div", { class: "flags" },
          where.flags.map((f) => el("span", { class: "badge flag" }, zh("flag", f)))) : null,
        list(where.reasons)),
      section("派单依据",
        dl([["推荐主办", names[routing.lead] || routing.lead],
          ["推荐协办", (routing.co_handlers || []).map((c) => names[c] || c).join("、")],
          ["值班网格员", routing.grid_worker ? el("span", { title: routing.grid_worker },
            routing.grid_worker_name || routing.grid_worker) : null]]),
        list(routing.reasons)),
      repeatsSection(t, actions),
      assignmentsSection(t),
      timelineSection(t, names),
    );
    const form = body.querySelector("form.action-form");
    if (form) {
      const first = form.querySelector("select, input, textarea, button");
      if (first) first.focus();
    }
  }

  function actionBar(actions, t) {
    const buttons = BUTTON_ACTIONS.filter((a) => actions.includes(a));
    if (!buttons.length && !actions.includes("decide_lead")) return null;
    const bar = el("div", { class: "action-bar", role: "group", "aria-label": "操作" },
      buttons.map((a) => el("button", {
        type: "button", class: "action" + (openForm === a ? " active" : ""),
        dataset: { action: a }, "aria-expanded": openForm === a ? "true" : "false",
        onclick: () => toggle(a),
      }, actionLabel(a, t))));
    const [name] = (openForm || "").split(":");
    // 会商定责: a disputed ticket is decided on the office's 定责 page (its returns, opinions).
    const dispute = actions.includes("decide_lead") ? el("a", {
      class: "dispute-link", href: "/disputes", "data-testid": "dispute-link",
    }, "定责队列：此单已被退回两次或两个部门，请会商定责 →") : null;
    return el("div", { class: "actions" }, dispute, bar,
      buttons.includes(name) ? actionForm(name, t) : null);
  }

  function actionLabel(action, t) {
    if (action === "dispatch" && t.status === "RETURNED") return "改派";
    if (action === "dispatch" && t.status === "REOPENED") return "重新派单";
    return zh("action", action);
  }

  function toggle(key) {
    openForm = openForm === key ? null : key;
    rerender();
  }

  function rerender() {
    refNames().then((names) => ticket && render(names));
  }

  /** Send an action with the version last read; on success show the new ticket. */
  async function submit(button, action, payload) {
    const number = current;
    const label = zh("action", action);
    try {
      await busy(button, async () => {
        const view = await api("POST",
          `/api/v1/tickets/${encodeURIComponent(number)}/actions/${action}`,
          { version: ticket.version, ...payload });
        if (current !== number) return;
        ticket = view;
        openForm = null;
        stale = false;
        toast(`${number}：${label}成功`, "ok");
        rerender();
        options.onAction(number, view);
      });
    } catch (e) {
      if (e instanceof ApiError && (e.code === "stale_version" || e.status === 409)) {
        markStale();
      }
    }
  }

  function formShell(action, key, fields, collect, submitLabel, danger) {
    const button = el("button", { type: "submit", class: danger ? "danger" : "primary" },
      submitLabel);
    const form = el("form", { class: "action-form panel", dataset: { form: key },
      "aria-label": zh("action", action),
      onsubmit: (ev) => {
        ev.preventDefault();
        if (!form.reportValidity()) return;
        const payload = collect();
        if (payload) submit(button, action, payload);
      } },
    fields,
    el("div", { class: "form-buttons" }, button,
      el("button", { type: "button", onclick: () => toggle(null) }, zh("ui", "cancel"))));
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.stopPropagation();
        toggle(null);
      }
    });
    return form;
  }

  function actionForm(action, t) {
    const label = actionLabel(action, t);
    if (action === "transfer_110" && t.police && t.police.state === "rejected") {
      // 首接: what 110 rejected goes again only with a supervisor's arbitration.
      const arbitration = reasonInput(true);
      return formShell(action, action, [
        el("p", { class: "muted" }, "110 已退回：" + (t.police.cause || "")),
        field("仲裁意见", arbitration)],
      () => ({ arbitration: trimmed(arbitration) }), "仲裁后转110", true);
    }
    switch (action) {
      case "dispatch": return dispatchForm(t, label);
      case "acknowledge_alarm":
        return formShell(action, action, [el("p", {}, "确认已看到此紧急警报并着手处置。")],
          () => ({}), "确认警报");
      case "take_back": {
        const reason = reasonInput(false);
        return formShell(action, action,
          [el("p", {}, "收回智能派单，工单回到待派单队列。"), field("收回理由", reason)],
          () => opt("reason", trimmed(reason)), "确认收回", true);
      }
      case "review_accept":
        return formShell(action, action,
          [el("p", {}, "确认办结结果符合要求，进入回访。"), lastResult(t)],
          () => ({}), "确认审核通过");
      case "merge": {
        const parent = el("input", { name: "parent", required: true, maxlength: 80,
          list: "repeat-numbers", autocomplete: "off", placeholder: "12345-…" });
        const candidates = el("datalist", { id: "repeat-numbers" },
          (t.repeat_candidates || []).map((c) => el("option", { value: c.number })));
        const preset = (openForm || "").split(":")[1];
        if (preset) parent.value = preset;
        const reason = reasonInput(false);
        return formShell(action, action, [field("主单编号", parent), candidates,
          field("说明", reason)],
        () => ({ parent: trimmed(parent), ...opt("reason", trimmed(reason)) }), "确认并单");
      }
      case "supervise": {
        const days = el("input", { name: "days", type: "number", min: 1, max: 60,
          placeholder: "默认" });
        const reason = reasonInput(true);
        return formShell(action, action,
          [field("督办理由", reason), field("督办时限（工作日）", days)],
          () => ({ reason: trimmed(reason), ...opt("days", days.value ? +days.value : null) }),
          "确认督办");
      }
      case "note": {
        const text = el("textarea", { name: "text", rows: 3, required: true,
          maxlength: 2000 });
        return formShell(action, action, [field("备注内容", text)],
          () => ({ text: trimmed(text) }), "保存备注");
      }
      case "urge": {
        const reason = reasonInput(false);
        return formShell(action, action, [field("催办说明", reason)],
          () => opt("reason", trimmed(reason)), "确认催办");
      }
      default: { // review_reject, void, transfer_110: a reason is required
        const reason = reasonInput(true);
        return formShell(action, action, [field(label + "理由", reason)],
          () => ({ reason: trimmed(reason) }), "确认" + label, DANGER.has(action));
      }
    }
  }

  function opt(key, value) {
    return value === null || value === undefined || value === "" ? {} : { [key]: value };
  }

  /** A co-handler returned its part while the lead goes on (退单待改派): who and why. */
  function coReturnNotice(t) {
    if (!["DISPATCHED", "SIGNED"].includes(t.status)) return null;
    const back = (t.assignments || []).filter((a) => a.role === "co" && a.status === "returned");
    if (!back.length) return null;
    return el("div", { class: "notice", "data-testid": "co-returned" }, back.map((a) =>
      el("p", {}, `协办单位 ${a.department_name || a.department} 已退单：`,
        a.return_reason || "未说明理由")));
  }

  /** What the reviewer checks: the lead's completion with its photos, where it was reported
   * from against the ticket's place, and how long the handling took. */
  function completionSection(t) {
    const done = (t.events || []).filter((e) => e.action === "complete" &&
      (e.payload || {}).role !== "co");
    if (!done.length) return null;
    const e = done[done.length - 1];
    const p = e.payload || {};
    const lead = (t.assignments || []).find((a) => a.id === p.assignment_id) ||
      (t.assignments || []).find((a) => a.role === "lead");
    const where = t.location || {};
    const metres = metresBetween(p.location, where);
    const far = metres !== null && metres > 500;
    return section("办结核验",
      dl([
        ["承办", lead ? lead.department_name || lead.department : null],
        ["办结结果", lead && lead.result ? lead.result : p.result],
        ["办结时间", fmtTime(e.at, true)],
        ["用时", lead ? duration(lead.dispatched_at, e.at) && "派单后 " +
          duration(lead.dispatched_at, e.at) : null],
        ["按时", p.on_time === undefined ? null : p.on_time ? "按时办结" : "超时办结"],
        ["上报位置", p.location ? (metres === null ? "工单无坐标，无法比对" :
          el("span", { class: far ? "far" : null, "data-testid": "completion-distance" },
            `距工单位置 ${distanceText(metres)}` + (far ? "（偏远，请核实）" : ""))) :
          "未上报位置"],
      ]),
      photos(p.attachments) || el("p", { class: "muted" }, "未上传办结照片"));
  }

  function lastResult(t) {
    const lead = (t.assignments || []).find((a) => a.role === "lead" && a.result);
    return lead ? el("p", { class: "result" }, "办结结果：", lead.result) : null;
  }

  function dispatchForm(t, label) {
    const routing = t.routing || {};
    const returned = (t.assignments || []).filter((a) => a.status === "returned");
    const lastReturn = returned.length ? returned[returned.length - 1] : null;
    const lead = el("select", { name: "lead", required: true },
      option("", zh("ui", "loading")));
    const co = el("select", { name: "co_handlers", multiple: true, size: 4 });
    const cell = (t.location || {}).cell;
    // The cell's grid workers by name, on duty first (the username is only the value sent).
    const worker = el("select", { name: "grid_worker", "data-testid": "worker-picker" },
      option("", cell ? zh("ui", "loading") : "（不指定网格员）"));
    const workerHint = el("small", { class: "muted" },
      cell ? "" : "工单未定位到网格，无法列出网格员");
    const known = (username) => ((t.assignments || []).find((a) => a.grid_worker === username) ||
      {}).grid_worker_name;
    let cellWorkers = [];
    const fillWorkers = (preferred, name) => fill(worker,
      workerChoices(cellWorkers, preferred, name || known(preferred)).map((c) =>
        el("option", { value: c.value, selected: c.selected, title: c.title || null }, c.label)));
    if (cell) {
      api("GET", `/api/v1/grid/cells/${encodeURIComponent(cell)}/workers`).then((d) => {
        cellWorkers = d.items || [];
        const chosen = worker.value; // a suggestion may have come first
        fillWorkers(chosen || routing.grid_worker || "");
        if (!cellWorkers.length) workerHint.textContent = "此网格名册上没有网格员";
      }).catch((e) => {
        fillWorkers(routing.grid_worker || "");
        toast(describe(e), "error");
      });
    } else {
      fillWorkers(routing.grid_worker || "");
    }
    const category = el("select", { name: "category" }, option("", "（不变）"));
    const reason = reasonInput(false);
    const hints = el("ul", { class: "reasons suggest" });
    const suggest = el("button", { type: "button", class: "small",
      onclick: () => suggestRouting(t, category.value || t.category, lead, co,
        (username, name) => fillWorkers(username, name), hints, suggest) }, "按分类推荐承办");
    const suggestion = el("p", { class: "notice", "data-testid": "reassign-hint", hidden: true });
    loadDepartments().then((ds) => {
      let leadDefault = routing.lead || "";
      if (t.status === "RETURNED") { // 改派: not back to the department that just returned it
        const candidate = nextCandidate(t, ds);
        leadDefault = candidate.code || "";
        suggestion.textContent = candidateText(candidate);
        suggestion.hidden = false;
      }
      fill(lead, option("", "请选择主办部门"),
        ds.map((d) => option(d.code, d.name, d.code === leadDefault)));
      fill(co, ds.map((d) => option(d.code, d.name,
        (routing.co_handlers || []).includes(d.code))));
    }).catch((e) => toast(describe(e), "error"));
    loadCategories().then((cs) => {
      fill(category, option("", "（不变）"),
        cs.map((c) => option(c.code, "\u3000".repeat(c.depth) + c.name,
          c.code === t.category)));
    }).catch((e) => toast(describe(e), "error"));
    return formShell("dispatch", "dispatch", [
      lastReturn && t.status !== "RETURNED" ? el("p", { class: "notice" },
        `${lastReturn.department_name || lastReturn.department} 退单：`,
        lastReturn.return_reason || "") : null,
      suggestion,
      field("主办部门", lead),
      field("协办部门", co, "按住 Ctrl 多选"),
      field("事项分类", category),
      el("div", { class: "inline-row" }, field("网格员", worker, workerHint), suggest),
      hints,
      field("派单说明", reason),
    ], () => {
      const coCodes = Array.from(co.selectedOptions).map((o) => o.value)
        .filter((c) => c && c !== lead.value);
      return {
        lead: lead.value, co_handlers: coCodes, ...opt("grid_worker", worker.value),
        ...opt("category", category.value && category.value !== t.category ?
          category.value : null),
        ...opt("reason", trimmed(reason)),
      };
    }, "确认" + label);
  }

  /** Ask the grid where this ticket's matter goes for a category: lead, co, on-duty worker. */
  async function suggestRouting(t, categoryCode, lead, co, pickWorker, hints, button) {
    const where = t.location || {};
    const q = new URLSearchParams();
    if (typeof where.lon === "number" && typeof where.lat === "number") {
      q.set("lon", where.lon);
      q.set("lat", where.lat);
    } else if (t.address) {
      q.set("address", t.address);
    } else {
      toast("工单没有位置，无法推荐", "error");
      return;
    }
    if (categoryCode) q.set("category", categoryCode);
    try {
      await busy(button, async () => {
        const r = await api("GET", "/api/v1/grid/locate?" + q.toString());
        const routing = r.routing || {};
        if (routing.lead) lead.value = routing.lead;
        for (const o of co.options) o.selected = (routing.co_handlers || []).includes(o.value);
        pickWorker(routing.grid_worker || "", routing.grid_worker_name);
        fill(hints, (routing.reasons || []).map((x) => el("li", {}, x)));
      });
    } catch (e) {
      // shown by busy()
    }
  }

  function extensionsSection(t, actions) {
    const canApprove = actions.includes("approve_extension");
    const canRefuse = actions.includes("refuse_extension");
    const rows = (t.extensions || []).map((x) => {
      const key = (a) => `${a}:${x.id}`;
      const pending = x.status === "pending";
      const item = el("li", { class: "extension " + x.status, dataset: { extension: x.id } },
        el("div", {},
          el("span", { class: "badge" }, zh("extension_status", x.status)), " ",
          `申请延期 ${x.days} 个工作日（${fmtTime(x.requested_at)}）`,
          x.new_deadline ? `，新时限 ${fmtTime(x.new_deadline)}` :
            x.old_deadline ? `，原时限 ${fmtTime(x.old_deadline)}` : ""),
        el("div", { class: "muted" }, "理由：", x.reason || ""),
        x.decision_reason ? el("div", { class: "muted" }, "批复：", x.decision_reason) : null);
      if (pending && (canApprove || canRefuse)) {
        item.appendChild(el("div", { class: "action-bar" },
          canApprove ? el("button", { type: "button", class: "action",
            dataset: { action: "approve_extension" },
            onclick: () => toggle(key("approve_extension")) }, "批准延期") : null,
          canRefuse ? el("button", { type: "button", class: "action",
            dataset: { action: "refuse_extension" },
            onclick: () => toggle(key("refuse_extension")) }, "驳回延期") : null));
        if (openForm === key("approve_extension")) {
          const days = el("input", { name: "days", type: "number", min: 1, max: 60,
            value: String(x.days) });
          const reason = reasonInput(false);
          item.appendChild(formShell("approve_extension", openForm,
            [field("批准天数（工作日）", days), field("批复意见", reason)],
            () => ({ extension_id: x.id, ...opt("days", days.value ? +days.value : null),
              ...opt("reason", trimmed(reason)) }), "确认批准"));
        } else if (openForm === key("refuse_extension")) {
          const reason = reasonInput(true);
          item.appendChild(formShell("refuse_extension", openForm,
            [field("驳回理由", reason)],
            () => ({ extension_id: x.id, reason: trimmed(reason) }), "确认驳回", true));
        }
      }
      return item;
    });
    return section("延期申请", el("ul", { class: "extensions" }, rows));
  }

  /** 挂起: the requests, and a pending one's approval (another end date allowed) or refusal. */
  function suspensionsSection(t, actions) {
    const canApprove = actions.includes("approve_suspend");
    const canRefuse = actions.includes("refuse_suspend");
    const rows = (t.suspensions || []).map((x) => {
      const key = (a) => `${a}:${x.id}`;
      const item = el("li", { class: "suspension " + x.status, dataset: { suspension: x.id },
        "data-testid": "drawer-suspension" },
      el("div", {},
        el("span", { class: "badge" }, zh("suspension_status", x.status)), " ",
        `申请挂起至 ${fmtTime(x.until, true)}（${fmtTime(x.requested_at)}）`,
        x.new_deadline ? `，新时限 ${fmtTime(x.new_deadline)}` : ""),
      el("div", { class: "muted" }, "理由：", x.reason || ""),
      x.decision_reason ? el("div", { class: "muted" }, "批复：", x.decision_reason) : null);
      if (x.status === "pending" && (canApprove || canRefuse)) {
        item.appendChild(el("div", { class: "action-bar" },
          canApprove ? el("button", { type: "button", class: "action",
            dataset: { action: "approve_suspend" },
            onclick: () => toggle(key("approve_suspend")) }, "批准挂起") : null,
          canRefuse ? el("button", { type: "button", class: "action",
            dataset: { action: "refuse_suspend" },
            onclick: () => toggle(key("refuse_suspend")) }, "拒绝挂起") : null));
        if (openForm === key("approve_suspend")) {
          const until = el("input", { name: "until", type: "date" });
          const reason = reasonInput(false);
          item.appendChild(formShell("approve_suspend", openForm,
            [field("恢复日期", until, "留空按申请的日期；累计超过 30 天须督办员批准"),
              field("批复意见", reason)],
            () => ({ suspension_id: x.id, ...opt("until", until.value),
              ...opt("reason", trimmed(reason)) }), "确认批准"));
        } else if (openForm === key("refuse_suspend")) {
          const reason = reasonInput(true);
          item.appendChild(formShell("refuse_suspend", openForm,
            [field("拒绝理由", reason)],
            () => ({ suspension_id: x.id, reason: trimmed(reason) }), "确认拒绝", true));
        }
      }
      return item;
    });
    return section("挂起申请", el("ul", { class: "suspensions" }, rows));
  }

  function repeatsSection(t, actions) {
    const candidates = t.repeat_candidates || [];
    const canMerge = actions.includes("merge");
    return section("疑似重复",
      candidates.length ? el("ul", { class: "repeats" }, candidates.map((c) => el("li", {},
        el("button", { type: "button", class: "link-button",
          onclick: () => open(c.number) }, c.number), " ",
        zh("status", c.status), " · ",
        c.reason === "same_caller" ? "同一诉求人" :
          `相距 ${Math.round(c.distance_m || 0)} 米`,
        canMerge ? el("button", { type: "button", class: "small",
          onclick: () => toggle("merge:" + c.number) }, "并入此单") : null)))
        : el("p", { class: "muted" }, "无"));
  }

  function assignmentsSection(t) {
    const rows = (t.assignments || []).map((a) => {
      const active = a.status === "dispatched" || a.status === "signed";
      return el("tr", { class: "as-" + a.status },
        el("td", {}, a.department_name || a.department),
        el("td", {}, zh("assignment_role", a.role)),
        el("td", {}, zh("assignment_status", a.status)),
        el("td", { title: a.grid_worker || null }, a.grid_worker_name || a.grid_worker || ""),
        el("td", {}, a.status === "dispatched" ? clock(a.sign_deadline, a.sign_warn_at) :
          fmtTime(a.signed_at)),
        el("td", {}, active ? clock(a.complete_deadline, a.complete_warn_at, a.suspended_until) :
          fmtTime(a.completed_at)),
        el("td", {}, a.extensions_used ? String(a.extensions_used) : ""));
    });
    return section("承办与时限", rows.length ? el("table", { class: "list compact" },
      el("thead", {}, el("tr", {}, ["部门", "角色", "状态", "网格员", "签收", "办结", "延期"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)) : el("p", { class: "muted" }, "尚未派单"));
  }

  function timelineSection(t, names) {
    const people = peopleOf(t);
    return section("处理记录",
      el("ol", { class: "timeline", "data-testid": "timeline" }, (t.events || []).map((e) => {
        const detail = payloadText(e, names, people);
        const actor = actorOf(e);
        return el("li", {},
          el("div", { class: "tl-head" },
            el("time", { datetime: e.at }, fmtTime(e.at, true)), " ",
            el("strong", {}, zh("action", e.action)), " ",
            e.from !== e.to && e.to ? el("span", { class: "muted" },
              (e.from ? zh("status", e.from) + " → " : "") + zh("status", e.to)) : null),
          el("div", { class: "muted", title: actor.title || null, "data-testid": "event-actor" },
            `${actor.text}（${zh("role", e.actor_role)}）`),
          e.reason ? el("div", {}, "理由：", e.reason) : null,
          detail ? el("div", { class: "tl-detail" }, detail) : null);
      })));
  }

  node.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close();
  });

  return { open, close, changed, number: () => current, reload: load };
}

