/* The department workbench (/department): the handler's inbox for their department in four
 * tabs — to sign for, in hand, extension requests, completed — with countdowns, and the ticket
 * panel (#<number>) with sign for, return with a reason, request an extension, notes between
 * the lead and the co-handlers, and complete with photos. Only what the API gives this user:
 * their department's tickets, citizens masked. */
(function () {
  "use strict";

  const H = window.H;
  const TW = window.TicketWork;
  const { el } = H;
  const me = H.BOOT.me;

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

  // ---------------------------------------------------------------- the inbox

  /** Which tabs a ticket belongs to, from this department's own assignment. */
  function classify(view) {
    const a = TW.myAssignment(view, me);
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
    if (!quiet) status.textContent = H.t("ui", "loading");
    const dept = encodeURIComponent(me.department || "");
    loading = (async () => {
      try {
        const [open, closed] = await Promise.all([
          TW.listTickets(`status=DISPATCHED,SIGNED,COMPLETED&department=${dept}`, 200),
          H.api("GET", `/api/v1/tickets?status=REVIEWED,ARCHIVED,REOPENED&department=${dept}` +
            "&per_page=20"),
        ]);
        const full = await TW.loadMany(open.map((t) => t.number), 6);
        const next = { sign: [], handling: [], extension: [], done: [] };
        for (const t of open) {
          const view = full.get(t.number);
          if (!view) continue;
          for (const name of classify(view)) next[name].push({ t, view });
        }
        for (const t of closed.items) next.done.push({ t, view: null });
        const due = (r) => {
          const c = r.view && TW.clockOf(TW.myAssignment(r.view, me));
          return c ? Date.parse(c.deadline) : Infinity;
        };
        for (const name of ["sign", "handling"]) next[name].sort((a, b) => due(a) - due(b));
        next.extension.sort((a, b) => Number(pending(b)) - Number(pending(a)));
        buckets = next;
        known.clear();
        for (const t of [...open, ...closed.items]) known.add(t.number);
        for (const name of TAB_NAMES) {
          document.querySelector(`[data-count="${name}"]`).textContent = String(next[name].length);
        }
        renderRows();
        status.textContent = `更新于 ${H.fmtTime(new Date(H.now()).toISOString())}`;
      } catch (e) {
        status.textContent = TW.describe(e);
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function pending(r) {
    const a = r.view && TW.myAssignment(r.view, me);
    return Boolean(a && (r.view.extensions || []).some(
      (x) => x.assignment_id === a.id && x.status === "pending"));
  }

  function extensionCell(r) {
    const a = TW.myAssignment(r.view, me);
    const mine = (r.view.extensions || []).filter((x) => x.assignment_id === a.id);
    const last = mine[mine.length - 1];
    return last ? el("span", { class: "badge ext-" + last.status },
      `${H.t("extension_status", last.status)} ${last.days}天`) : "";
  }

  function renderRows() {
    const rows = buckets[tab];
    if (!rows.length) {
      H.fill(rowsNode, el("tr", {}, el("td", { colspan: 6, class: "muted empty" },
        H.t("ui", "empty"))));
      return;
    }
    H.fill(rowsNode, rows.map((r) => {
      const t = r.t;
      const a = r.view ? TW.myAssignment(r.view, me) : null;
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
      el("td", {}, el("a", { href: "#" + encodeURIComponent(t.number) }, t.number), " ",
        TW.urgencyBadge(t.urgency)),
      el("td", { class: "text-cell" }, t.text),
      el("td", {}, H.t("type", t.type)),
      el("td", {}, a ? H.t("assignment_role", a.role) : ""),
      el("td", {}, TW.statusBadge(t.status),
        tab === "extension" && r.view ? [" ", extensionCell(r)] : null),
      el("td", {}, a ? TW.clockNode(TW.clockOf(a)) : ""));
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
    H.fill(panel, el("div", { class: "panel not-found", role: "alert", "data-testid": "not-found" },
      el("strong", {}, "未找到工单"),
      el("p", {}, `编号 ${number} 不存在，或不是本部门承办的工单。`)));
  }

  async function openTicket(number) {
    current = number;
    renderRows();
    H.fill(panel, el("p", { class: "muted" }, H.t("ui", "loading")));
    try {
      if (!(await TW.isVisible(number, known))) {
        if (current === number) notFound(number);
        return;
      }
      const ticket = await TW.loadTicket(number);
      if (current === number) await show(ticket);
    } catch (e) {
      if (current === number) H.fill(panel, el("p", { class: "error", role: "alert" }, TW.describe(e)));
    }
  }

  async function show(ticket) {
    await TW.renderTicket(panel, ticket, {
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
      const i = TAB_NAMES.indexOf(button.dataset.tab);
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        ev.preventDefault();
        const step = ev.key === "ArrowRight" ? 1 : TAB_NAMES.length - 1;
        selectTab(TAB_NAMES[(i + step) % TAB_NAMES.length], true);
      }
    });
  }
  document.getElementById("refresh").addEventListener("click", () => loadInbox(false));
  window.addEventListener("hashchange", route);
  setInterval(() => TW.tickClocks(document), 30000);
  setInterval(() => {
    if (document.visibilityState === "visible") loadInbox(true);
  }, 60000);
  selectTab("sign");
  loadInbox(false);
  route();
})();
