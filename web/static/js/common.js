/* Shared helpers of every page: the API client (CSRF header, house errors), safe DOM building,
 * the translation table, times in Asia/Shanghai, countdowns and toasts.
 *
 * Safety rule of the pages: user-provided text only ever reaches the DOM through textContent
 * (H.el's children, H.text); no page sets innerHTML from data. */
(function () {
  "use strict";

  const I18N = JSON.parse(document.getElementById("i18n").textContent);
  const bootNode = document.getElementById("boot");
  const BOOT = bootNode ? JSON.parse(bootNode.textContent) : {};
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  // The server's clock may differ from the browser's (and tests run on a manual clock).
  const skewMs = BOOT.server_now ? Date.parse(BOOT.server_now) - Date.now() : 0;

  /** The Chinese label of a code (DOMAIN.md names), or the code itself. */
  function t(group, code) {
    if (code === null || code === undefined) return "";
    const table = I18N[group] || {};
    const key = typeof code === "boolean" ? String(code) : code;
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : String(code);
  }

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null;
    }
    /** What to show a user: the Chinese name of the error, then the server's detail. */
    describe() {
      const head = t("error", this.code);
      const where = this.field ? `（${this.field}）` : "";
      return `${head}${where}：${this.message}`;
    }
  }

  /** Call the API: JSON in and out, the CSRF token on every state-changing request. */
  async function api(method, url, body, options) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRFToken"] = csrfMeta ? csrfMeta.content : "";
    }
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (options && options.signal) init.signal = options.signal;
    const response = await fetch(url, init);
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
      throw new ApiError(401, "unauthorized", "请先登录");
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : null;  // also geo+json
    if (!response.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(response.status, e.code || "error", e.message || response.statusText,
                         e.field);
    }
    return data;
  }

  /** Build an element: attributes (class, dataset, on* handlers, properties) and children;
   * strings become text nodes, never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Replace a node's children (same rules as el). */
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  const timeFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", hour12: false,
  });
  const fullFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });

  function fmtTime(iso, full) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : (full ? fullFormat : timeFormat).format(d);
  }

  /** Now on the server's clock, in ms. */
  function now() {
    return Date.now() + skewMs;
  }

  /** "剩 2小时05分" / "超 15分" until an ISO deadline; and how it stands. */
  function countdown(deadline, warnAt) {
    if (!deadline) return { text: "", state: "none" };
    const left = Date.parse(deadline) - now();
    const abs = Math.abs(left);
    const days = Math.floor(abs / 86400000);
    const hours = Math.floor((abs % 86400000) / 3600000);
    const minutes = Math.floor((abs % 3600000) / 60000);
    const span = (days ? `${days}天` : "") + (days || hours ? `${hours}小时` : "") +
      `${String(minutes).padStart(days || hours ? 2 : 1, "0")}分`;
    let state = "ok";
    if (left < 0) state = "overdue";
    else if (warnAt && Date.parse(warnAt) <= now()) state = "warning";
    return { text: (left < 0 ? "超时 " : "剩 ") + span, state };
  }

  function toast(message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("div", { class: "toast " + (kind || "info"), role: "status" }, message);
    box.appendChild(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  /** Run an async action from a button: disabled while running, errors shown as a toast. */
  async function busy(button, fn) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      toast(e instanceof ApiError ? e.describe() : String(e.message || e), "error");
      throw e;
    } finally {
      if (button) button.disabled = false;
    }
  }

  /** Masked display of a phone number as DOMAIN.md writes it (138****1234). */
  function maskPhone(phone) {
    if (!phone) return "";
    const s = String(phone);
    return s.length >= 7 ? s.slice(0, 3) + "****" + s.slice(-4) : "****";
  }

  window.H = {
    I18N, BOOT, t, api, ApiError, el, fill, append, fmtTime, now, countdown, toast, busy,
    maskPhone, csrfToken: () => (csrfMeta ? csrfMeta.content : ""),
  };
})();
