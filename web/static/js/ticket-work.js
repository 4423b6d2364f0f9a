/* What the grid worker's page and the department workbench share: reading tickets in full, the
 * assignee's own assignment and its clock, the ticket panel (demand, place, citizen as the API
 * masks it, assignments, extensions, timeline with photos) and the assignee's actions (sign,
 * return, note, complete, request extension, request suspension and resume) with photo uploads
 * and the current location.
 *
 * Safety: every user-provided text reaches the DOM through el (text nodes), never as markup.
 * Photos are shown from this site's API only (`/api/v1/attachments/<id>`) or as local blob:
 * previews of the files being uploaded. */
import { api, ApiError, describe, geojson } from "./lib/api.js";
import { countdown } from "./lib/clock.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime, megabytes } from "./lib/format.js";
import { BOOT, csrfToken, now, zh } from "./lib/page.js";
import { phoneView } from "./lib/phones.js";
import { offeredNow } from "./lib/offers.js";
import { actorOf, peopleOf, person } from "./lib/people.js";
import { clockOf, myAssignment, myDelegation } from "./lib/tickets.js";
import { toast } from "./lib/ui.js";
import { L } from "./lib/vendor.js";

const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const MAX_PHOTOS = 9;
const MAX_DAYS = 7; // DOMAIN.md: each extension at most 7 working days (the server decides)
const NUMBER_RE = /^[0-9A-Za-z_-]{1,40}$/;
const ASSIGNEE_ACTIONS = ["sign", "note", "complete", "delegate", "review_delegated_accept",
  "review_delegated_reject", "request_extension", "request_suspend", "resume", "return"];

function uploadLimit() {
  return BOOT.upload_max_bytes || 10 * 1024 * 1024;
}

// ------------------------------------------------------------------ reading

let refsPromise = null;
let departmentsBelow = []; // departments with a parent (communities, villages): 下派 targets

/** Names of departments, categories and areas (streets, communities) by code (empty maps
 * when they cannot be read). */
export function refs() {
  if (!refsPromise) {
    const flat = (nodes, out) => {
      for (const n of nodes || []) {
        out[n.code] = n.name;
        flat(n.children, out);
      }
      return out;
    };
    refsPromise = Promise.all([
      api("GET", "/api/v1/departments").then((d) => {
        departmentsBelow = d.items.filter((x) => x.parent && x.active);
        return Object.fromEntries(d.items.map((x) => [x.code, x.name]));
      }, () => ({})),
      api("GET", "/api/v1/categories").then((d) => flat(d.items, {}), () => ({})),
      api("GET", "/api/v1/grid/areas").then(
        (d) => Object.fromEntries(d.items.map((x) => [x.code, x.name])), () => ({})),
    ]).then(([dept, cat, area]) => ({ dept, cat, area }));
  }
  return refsPromise;
}

/** The full ticket (GET /api/v1/tickets/<n>). */
export function loadTicket(number) {
  return api("GET", "/api/v1/tickets/" + encodeURIComponent(number));
}

/** Whether this user may see a ticket of this number, asked through the scoped list (a
 * number typed into the address bar never gets more than "not found"). `known`: numbers the
 * page has just listed (no need to ask). */
export async function isVisible(number, known) {
  if (!NUMBER_RE.test(number)) return false;
  if (known && known.has(number)) return true;
  const page = await api("GET", "/api/v1/tickets?per_page=5&q=" + encodeURIComponent(number));
  return page.items.some((t) => t.number === number);
}

/** Tickets of a list query (all pages up to `max`). */
export async function listTickets(query, max) {
  const out = [];
  let page = 1;
  for (;;) {
    const data = await api("GET", `/api/v1/tickets?${query}&per_page=100&page=${page}`);
    out.push(...data.items);
    if (out.length >= Math.min(data.total, max || 300) || !data.items.length) break;
    page += 1;
  }
  return out;
}

/** Full views of several tickets, a few requests at a time; unreadable ones are left out. */
export async function loadMany(numbers, concurrency) {
  const out = new Map();
  let next = 0;
  async function worker() {
    while (next < numbers.length) {
      const number = numbers[next++];
      try {
        out.set(number, await loadTicket(number));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency || 4 }, worker));
  return out;
}

/** A countdown element; `tickClocks` keeps it current. */
export function clockNode(clock) {
  if (!clock || !clock.deadline) return null;
  const node = el("span", {
    class: "clock",
    dataset: { deadline: clock.deadline, warnAt: clock.warnAt || "", kind: clock.kind,
      suspended: clock.suspendedUntil || "" },
    title: `${zh("clock", clock.kind)}：${fmtTime(clock.deadline, true)}` +
      (clock.suspendedUntil ? `（挂起至 ${fmtTime(clock.suspendedUntil, true)}）` : ""),
  });
  updateClock(node);
  return node;
}

function updateClock(node) {
  const cd = countdown(node.dataset.deadline, node.dataset.warnAt || null, now(),
    node.dataset.suspended || null);
  node.className = "clock " + cd.state;
  node.textContent = `${zh("clock", node.dataset.kind)} ${cd.text}`;
}

export function tickClocks(root) {
  for (const node of (root || document).querySelectorAll(".clock[data-deadline]")) {
    updateClock(node);
  }
}

export function statusBadge(status) {
  return el("span", { class: "badge st st-" + status, "data-testid": "ticket-status" },
    zh("status", status));
}

export function urgencyBadge(urgency) {
  return urgency && urgency !== "normal"
    ? el("span", { class: "badge " + urgency }, zh("urgency", urgency)) : null;
}

// ------------------------------------------------------------------ errors

/** What to tell a user about a refused request (Chinese first, the server's detail after),
 * photo refusals in words. */
export function explain(e) {
  if (!(e instanceof ApiError)) return describe(e);
  if (e.code === "stale_version") return zh("error", "stale_version");
  if (e.code === "too_large") return `照片过大，每张不超过 ${megabytes(uploadLimit())}`;
  if (e.field === "file" && e.code === "invalid") {
    return `照片未通过检查（仅支持 JPEG、PNG、WebP，且不超过 ${megabytes(uploadLimit())}）：${e.message}`;
  }
  return describe(e);
}

// ------------------------------------------------------------------ photos

/** POST one photo with upload progress (fetch reports none); resolves to the attachment.
 * Without a ticket number: a photo taken on patrol, before its report (巡查上报). */
export function uploadPhoto(number, file, onProgress, onStart) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    if (onStart) onStart(xhr);
    xhr.open("POST", number ? "/api/v1/tickets/" + encodeURIComponent(number) + "/attachments"
      : "/api/v1/attachments");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        resolve(data);
        return;
      }
      const err = (data && data.error) || {};
      reject(new ApiError(xhr.status, err.code || "error", err.message || xhr.statusText,
        err.field));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "网络中断，上传失败")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "已取消")));
    const form = new FormData();
    form.append("file", file, file.name || "photo");
    xhr.send(form);
  });
}

/** A photo field: pick or shoot photos; each is checked (type, size), uploaded at once with
 * its progress shown, and can be removed. `ids()` gives the uploaded ones. */
export function photoPicker(number, options) {
  const items = [];
  const list = el("div", { class: "photos", "data-testid": "photo-list" });
  const note = el("div", { class: "photo-note error", role: "alert" });
  const input = el("input", {
    type: "file", accept: "image/*", multiple: true, class: "visually-hidden",
    "data-testid": "photo-input",
    capture: options && options.capture ? "environment" : null,
  });
  const label = el("label", { class: "photo-add button" }, input,
    options && options.capture ? "拍照 / 选择照片" : "添加照片");
  const node = el("div", { class: "photo-field" },
    el("div", { class: "photo-head" }, label,
      el("span", { class: "muted" },
        `JPEG、PNG、WebP，每张不超过 ${megabytes(uploadLimit())}，最多 ${MAX_PHOTOS} 张`)),
    list, note);

  function live() {
    return items.filter((i) => i.state !== "removed");
  }

  function add(file) {
    const item = { file, state: "checking", id: null, promise: null, xhr: null };
    items.push(item);
    const bar = el("progress", { max: 100, value: 0 });
    const status = el("span", { class: "photo-status" });
    const remove = el("button", {
      type: "button", class: "photo-remove", "aria-label": "移除照片 " + file.name, title: "移除",
      onclick: () => {
        if (item.xhr) item.xhr.abort();
        item.state = "removed";
        if (item.url) URL.revokeObjectURL(item.url);
        figure.remove();
      },
    }, "×");
    // Some phones leave the type empty: then the name decides here, the content on the server.
    const ok = PHOTO_TYPES.includes(file.type) ||
      (!file.type && /\.(jpe?g|png|webp)$/i.test(file.name || ""));
    item.url = ok ? URL.createObjectURL(file) : null;
    const figure = el("figure", { class: "photo", "data-testid": "photo-item" },
      item.url ? el("img", { src: item.url, alt: file.name }) : el("div", { class: "noimg" }, "?"),
      el("figcaption", {}, bar, status), remove);
    item.figure = figure;
    list.appendChild(figure);
    const fail = (message) => {
      item.state = "error";
      figure.classList.add("failed");
      bar.remove();
      status.textContent = message;
    };
    if (live().filter((i) => i.state !== "error").length > MAX_PHOTOS) {
      fail(`最多 ${MAX_PHOTOS} 张`);
      return;
    }
    if (!ok) {
      fail("格式不支持：仅支持 JPEG、PNG、WebP 照片");
      return;
    }
    if (file.size > uploadLimit()) {
      fail(`照片过大（${megabytes(file.size)}），每张不超过 ${megabytes(uploadLimit())}`);
      return;
    }
    item.state = "uploading";
    status.textContent = "上传中 0%";
    item.promise = uploadPhoto(number, file, (fraction) => {
      bar.value = Math.round(fraction * 100);
      status.textContent = `上传中 ${bar.value}%`;
    }, (xhr) => { item.xhr = xhr; }).then((attachment) => {
      if (item.state === "removed") return;
      item.state = "done";
      item.id = attachment.id;
      figure.dataset.attachmentId = String(attachment.id);
      figure.classList.add("done");
      bar.remove();
      status.textContent = "已上传";
    }, (e) => {
      if (item.state !== "removed") fail(explain(e));
    });
  }

  input.addEventListener("change", () => {
    note.textContent = "";
    for (const file of Array.from(input.files || [])) add(file);
    input.value = ""; // the same photo may be picked again after a removal
  });

  return {
    node,
    /** Wait for uploads in flight; the ids of the uploaded photos, or throw if one failed. */
    async ids() {
      await Promise.all(live().map((i) => i.promise).filter(Boolean));
      if (live().some((i) => i.state === "error")) {
        note.textContent = "有照片未能上传，请移除后再提交";
        throw new Error("有照片未能上传，请移除后再提交");
      }
      return live().filter((i) => i.state === "done").map((i) => i.id);
    },
    busy: () => live().some((i) => i.state === "uploading"),
  };
}

// ------------------------------------------------------------------ location

/** The current position (WGS-84, as browsers give it), asked once and on demand. */
export function locator() {
  let position = null;
  const text = el("span", { class: "loc-text", "data-testid": "location-text" }, "未获取位置");
  const retry = el("button", { type: "button", class: "link-button", onclick: () => ask() },
    "重新定位");
  const node = el("div", { class: "locator", role: "status" }, el("span", {}, "定位："), text,
    " ", retry);

  function ask() {
    if (!("geolocation" in navigator)) {
      text.textContent = "此设备无法定位，将不附位置";
      return;
    }
    text.textContent = "定位中…";
    navigator.geolocation.getCurrentPosition((pos) => {
      position = {
        lon: Number(pos.coords.longitude.toFixed(6)),
        lat: Number(pos.coords.latitude.toFixed(6)),
        accuracy: pos.coords.accuracy,
      };
      const acc = Number.isFinite(position.accuracy) ? `（精度约 ${Math.round(position.accuracy)} 米）` : "";
      text.textContent = `当前位置 ${position.lon}, ${position.lat}${acc}`;
      node.classList.add("located");
    }, (err) => {
      position = null;
      node.classList.remove("located");
      text.textContent = err.code === 1 ? "未允许定位，将不附位置（可在浏览器设置中允许后重新定位）"
        : "暂时无法定位，将不附位置";
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  ask();
  return { node, position: () => position };
}

// ------------------------------------------------------------------ the map

/** A small map of the ticket's place: its grid cell and the places reported from. */
function smallMap(node, ticket, options) {
  const loc = ticket.location || {};
  if (!L || loc.lon == null || loc.lat == null) return null;
  const map = L.map(node, { zoomControl: true, attributionControl: false,
    scrollWheelZoom: false, minZoom: 12, maxZoom: 19 });
  map.setView([loc.lat, loc.lon], 16);
  if (loc.grid_version) {
    const d = 0.012;
    const bbox = [loc.lon - d, loc.lat - d, loc.lon + d, loc.lat + d]
      .map((v) => v.toFixed(4)).join(",");
    geojson(`/api/v1/grid/cells.geojson?level=cell&zoom=16&version=${loc.grid_version}` +
      `&bbox=${bbox}`).then((data) => {
        const own = (f) => Boolean(f.properties && f.properties.code === loc.cell);
        L.geoJSON(data, {
          style: (f) => ({
            className: own(f) ? "cell-area own" : "cell-area",
            color: own(f) ? "#1565c0" : "#9fa8da", weight: own(f) ? 2 : 1,
            fillOpacity: own(f) ? 0.12 : 0.04,
          }),
          onEachFeature: (f, layer) => {
            if (f.properties && f.properties.name) {
              layer.bindTooltip(el("span", {}, f.properties.name), { sticky: true });
            }
          },
        }).addTo(map);
        const mine = data.features.find(own);
        if (mine && options && options.onCellName) options.onCellName(mine.properties.name);
      }).catch(() => { /* the map still shows the point */ });
  }
  L.circleMarker([loc.lat, loc.lon], { radius: 8, color: "#b71c1c", weight: 2,
    fillColor: "#e53935", fillOpacity: 0.8 })
    .bindTooltip(el("span", {}, "诉求位置")).addTo(map);
  for (const e of ticket.events || []) {
    const p = (e.payload || {}).location;
    if (e.action !== "intake" && p && typeof p.lon === "number" && typeof p.lat === "number") {
      L.circleMarker([p.lat, p.lon], { radius: 6, color: "#1565c0", fillOpacity: 0.7 })
        .bindTooltip(el("span", {}, `${zh("action", e.action)} 上报位置 ${fmtTime(e.at)}`))
        .addTo(map);
    }
  }
  setTimeout(() => map.invalidateSize(), 0);
  return map;
}

// ------------------------------------------------------------------ the panel

function fact(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function citizenNodes(c) {
  if (!c) return "—";
  if (c.hidden) return el("span", { class: "muted" }, "诉求人要求保密");
  if (c.anonymous) return el("span", { class: "muted" }, "匿名");
  const view = phoneView(c.phone);
  // A masked number (138****1234) cannot be called: text only.
  const phone = view && (view.href
    ? el("a", { href: view.href, "data-testid": "citizen-phone" }, view.text)
    : el("span", { "data-testid": "citizen-phone" }, view.text));
  return [c.name || "", c.name && phone ? " " : "", phone];
}

function photoGallery(ids) {
  return el("div", { class: "photos timeline-photos" }, ids.map((id) => {
    const url = "/api/v1/attachments/" + encodeURIComponent(id);
    return el("a", { href: url, target: "_blank", rel: "noopener", class: "photo",
      title: "查看原图" },
      el("img", { src: url, alt: "现场照片 " + id, loading: "lazy",
        "data-testid": "event-photo" }));
  }));
}

function eventDetail(e, names, people) {
  const p = e.payload || {};
  const out = [];
  const dept = (code) => names.dept[code] || code;
  switch (e.action) {
    case "dispatch":
      out.push(`主办：${dept(p.lead)}`);
      if (p.co_handlers && p.co_handlers.length) out.push(`协办：${p.co_handlers.map(dept).join("、")}`);
      if (p.grid_worker) out.push(`网格员：${person(people, p.grid_worker, p.grid_worker_name).text}`);
      break;
    case "sign":
    case "return":
      if (p.delegated) out.push(`下派任务：${dept(p.to) || p.grid_worker || ""}`);
      else if (p.department) out.push(`${dept(p.department)}（${zh("assignment_role", p.role)}）`);
      if (p.returned_to) out.push(`退回上级：${dept(p.returned_to)}`);
      break;
    case "complete":
      if (p.delegated) out.push(`下派任务：${dept(p.to) || p.grid_worker || ""}，待上级审核`);
      else if (p.department) out.push(`${dept(p.department)}（${zh("assignment_role", p.role)}）`);
      if (p.result) out.push(`办理结果：${p.result}`);
      break;
    case "delegate":
      out.push(`${dept(p.from)} 下派给 ${p.to ? dept(p.to) : `网格员 ${p.grid_worker}`}`);
      if (p.complete_deadline) out.push(`下派办结时限 ${fmtTime(p.complete_deadline, true)}`);
      break;
    case "review_delegated_accept":
      out.push(p.completes_assignment ? "镇（街道）审核通过，派单办结" : "审核通过，报上级审核");
      if (p.result) out.push(`办理结果：${p.result}`);
      break;
    case "self_handle":
      out.push(`现场自办自结，待 ${dept(p.department)} 审核`);
      if (p.result) out.push(`处理结果：${p.result}`);
      break;
    case "decide_lead":
      out.push(`定责主办：${dept(p.lead)}`);
      if (p.unfounded && p.unfounded.length) out.push(`退单不实：${p.unfounded.map(dept).join("、")}`);
      break;
    case "note":
      if (p.text) out.push(p.text);
      break;
    case "request_extension":
      out.push(`申请延期 ${p.days} 个工作日`);
      break;
    case "approve_extension":
      out.push(`批准延期 ${p.days} 个工作日，新时限 ${fmtTime(p.new_deadline, true)}`);
      break;
    case "request_suspend":
      out.push(`申请挂起至 ${p.until}`);
      break;
    case "approve_suspend":
      out.push(`挂起至 ${p.until}，计时暂停`);
      break;
    case "resume":
      if (p.new_deadline) out.push(`恢复计时，新时限 ${fmtTime(p.new_deadline, true)}`);
      break;
    case "answer":
      if (p.answer) out.push(p.answer);
      break;
    default:
      break;
  }
  return out;
}

function timeline(ticket, names) {
  const events = (ticket.events || []).slice().reverse(); // newest first
  const people = peopleOf(ticket);
  return el("ol", { class: "timeline", "data-testid": "timeline" }, events.map((e) => {
    const p = e.payload || {};
    const photos = Array.isArray(p.attachments) && p.attachments.length
      ? photoGallery(p.attachments) : null;
    const place = e.action !== "intake" && p.location && typeof p.location.lon === "number"
      ? el("div", { class: "muted event-place", "data-testid": "event-location" },
        `上报位置 ${p.location.lon}, ${p.location.lat}`) : null;
    const actor = actorOf(e);
    return el("li", { class: "event ev-" + e.action, dataset: { action: e.action } },
      el("div", { class: "event-head" },
        el("strong", {}, zh("action", e.action)), " ",
        el("span", { class: "muted" }, fmtTime(e.at, true)), " ",
        el("span", { class: "muted", title: actor.title || null, "data-testid": "event-actor" },
          `${actor.text}（${zh("role", e.actor_role)}）`),
        e.from !== e.to && e.to ? el("span", { class: "muted" }, ` → ${zh("status", e.to)}`) : null),
      eventDetail(e, names, people).map((line) => el("div", { class: "event-text" }, line)),
      e.reason ? el("div", { class: "event-text" }, `理由：${e.reason}`) : null,
      photos, place);
  }));
}

function assignmentsList(ticket, names, me) {
  const items = ticket.assignments || [];
  if (!items.length) return null;
  return el("ul", { class: "assignments" }, items.map((a) => {
    const mine = me.role === "grid_worker" ? a.grid_worker === me.username
      : a.department === me.department;
    return el("li", { class: mine ? "mine" : "" },
      el("span", { class: "badge" }, zh("assignment_role", a.role)), " ",
      a.department_name || names.dept[a.department] || a.department,
      a.grid_worker ? [" · 网格员 ", el("span", { title: a.grid_worker,
        "data-testid": "assignment-worker" }, a.grid_worker_name || a.grid_worker)] : "", " · ",
      zh("assignment_status", a.status), " ", clockNode(clockOf(a)),
      a.deadline_provisional ? el("span", { class: "muted", title: "按暂定日历计算" }, "（暂定）") : null,
      a.return_reason ? el("div", { class: "muted" }, `退单理由：${a.return_reason}`) : null);
  }));
}

function extensionsList(ticket) {
  const items = ticket.extensions || [];
  if (!items.length) return null;
  return el("section", { class: "extensions" }, el("h3", {}, "延期申请"),
    el("ul", {}, items.map((x) => el("li", { "data-testid": "extension" },
      el("span", { class: "badge ext-" + x.status }, zh("extension_status", x.status)), " ",
      `${x.days} 个工作日 · ${fmtTime(x.requested_at)} · ${x.reason}`,
      x.new_deadline ? ` · 新时限 ${fmtTime(x.new_deadline, true)}` : "",
      x.decision_reason ? ` · 审批意见：${x.decision_reason}` : ""))));
}

function delegationsList(ticket, names, me) {
  const items = ticket.delegations || [];
  if (!items.length) return null;
  const dept = (code) => names.dept[code] || code;
  return el("section", { class: "delegations" }, el("h3", {}, "下派（层级派单）"),
    el("ul", {}, items.map((d) => {
      const mine = me.role === "grid_worker" ? d.grid_worker === me.username
        : d.department === me.department || d.from === me.department;
      return el("li", { class: mine ? "mine" : "", "data-testid": "delegation" },
        el("span", { class: "badge deleg-" + d.status }, zh("delegation_status", d.status)), " ",
        `${dept(d.from)} → ${d.department ? dept(d.department) : `网格员 ${d.grid_worker}`}`, " ",
        clockNode(clockOf(d)),
        d.result ? el("div", { class: "muted" }, `办理结果：${d.result}`) : null,
        d.review_reason ? el("div", { class: "muted" }, `审核意见：${d.review_reason}`) : null,
        d.return_reason ? el("div", { class: "muted" }, `退回理由：${d.return_reason}`) : null);
    })));
}

function suspensionsList(ticket) {
  const items = ticket.suspensions || [];
  if (!items.length) return null;
  return el("section", { class: "suspensions" }, el("h3", {}, "挂起申请"),
    el("ul", {}, items.map((x) => el("li", { "data-testid": "suspension" },
      el("span", { class: "badge susp-" + x.status }, zh("suspension_status", x.status)), " ",
      `至 ${fmtTime(x.until, true)} · ${fmtTime(x.requested_at)} · ${x.reason}`,
      x.new_deadline ? ` · 新时限 ${fmtTime(x.new_deadline, true)}` : "",
      x.decision_reason ? ` · 审批意见：${x.decision_reason}` : ""))));
}

/**
 * Render a ticket into `node` with the actions this user may take now.
 * ctx: {me, onChanged(view), reload(), capture (photos from the camera), withLocation,
 *       withMap}
 */
export async function renderTicket(node, ticket, ctx) {
  const names = await refs();
  const me = ctx.me;
  const below = myDelegation(ticket, me); // a step delegated to me (下派)
  const mine = below || myAssignment(ticket, me);
  const loc = ticket.location || {};
  const mapNode = ctx.withMap && loc.lon != null ? el("div", { class: "small-map",
    "data-testid": "ticket-map", role: "img", "aria-label": "诉求位置地图" }) : null;
  const formArea = el("div", { class: "action-form-area" });
  // The cell, community and street by name (location.names), the cell's code in the tooltip.
  const place = loc.names || {};
  const cellNode = el("span", { "data-testid": "ticket-cell", title: loc.cell || null },
    [place.cell || loc.cell, place.community || names.area[loc.community] || loc.community,
      place.street || names.area[loc.street] || loc.street].filter(Boolean).join(" / ") || "—");
  const actions = offeredNow(ASSIGNEE_ACTIONS, ticket, mine, now());
  const bar = el("div", { class: "action-bar", role: "toolbar", "aria-label": "办理操作" },
    actions.map((action) => el("button", {
      type: "button", class: action === "complete" || action === "sign" ? "primary"
        : action === "return" ? "danger" : "",
      "data-action": action, "data-testid": "action-" + action,
      onclick: (ev) => openAction(ev.currentTarget, action),
    }, actionLabel(action, me))));

  function openAction(button, action) {
    for (const b of bar.querySelectorAll("button")) b.classList.toggle("active", b === button);
    if (action === "sign" || action === "resume" || action === "review_delegated_accept") {
      submit(button, action, async () => ({}));
      return;
    }
    fill(formArea, actionForm(action));
    const first = formArea.querySelector("textarea, input:not([type=file])");
    if (first) first.focus();
  }

  function closeForm() {
    formArea.replaceChildren();
    for (const b of bar.querySelectorAll("button")) b.classList.remove("active");
  }

  /** Send an action; a version conflict reloads the ticket, other refusals are shown. */
  async function submit(button, action, body, errorNode) {
    if (button.disabled) return;
    button.disabled = true;
    if (errorNode) errorNode.textContent = "";
    try {
      const payload = await body();
      const view = await api("POST", `/api/v1/tickets/${encodeURIComponent(ticket.number)}` +
        `/actions/${action}`, { version: ticket.version, ...payload });
      toast(`${actionLabel(action, me)}：已提交`, "ok");
      ctx.onChanged(view);
    } catch (e) {
      const message = explain(e);
      if (errorNode) errorNode.textContent = message;
      toast(message, "error");
      if (e instanceof ApiError && e.code === "stale_version") ctx.reload();
    } finally {
      button.disabled = false;
    }
  }

  function actionForm(action) {
    const error = el("div", { class: "form-error error", role: "alert",
      "data-testid": "form-error" });
    const cancel = el("button", { type: "button", onclick: closeForm }, zh("ui", "cancel"));
    const send = el("button", { type: "submit", class: action === "return" ? "danger" : "primary",
      "data-testid": "submit-" + action }, "提交" + actionLabel(action, me));
    const fields = [];
    let collect = async () => ({});
    if (action === "return" || action === "review_delegated_reject") {
      const reason = el("textarea", { name: "reason", required: true, maxlength: 2000, rows: 3,
        placeholder: action === "return" ? (below ? "请写明退回上级的理由"
          : "请写明退单理由（例如：不属于本单位职责，应由…办理）")
          : "请写明审核退回的理由（例如：照片不清楚、问题未解决）" });
      fields.push(el("label", {}, action === "return" ? "退单理由" : "审核意见", reason));
      collect = async () => ({ reason: reason.value.trim() });
    } else if (action === "delegate") {
      // 下派: one of my communities or villages, or a grid worker of my area (by account).
      const listId = "delegate-targets-" + ticket.number;
      const to = el("input", { name: "to", required: true, maxlength: 80, list: listId,
        placeholder: "社区/村的部门代码，或网格员账号", "data-testid": "delegate-to" });
      const options = el("datalist", { id: listId }, departmentsBelow
        .filter((d) => d.parent === me.department)
        .map((d) => el("option", { value: d.code }, d.name)));
      fields.push(el("label", {}, "下派给（下一级社区/村或本辖区网格员）", to), options);
      collect = async () => ({ to: to.value.trim() });
    } else if (action === "request_extension") {
      const days = el("input", { type: "number", name: "days", min: 1, max: MAX_DAYS, step: 1,
        value: "3", required: true, inputmode: "numeric" });
      const reason = el("textarea", { name: "reason", required: true, maxlength: 2000, rows: 3,
        placeholder: "请写明需要延期的原因" });
      fields.push(el("label", {}, `延期天数（工作日，1–${MAX_DAYS}）`, days),
        el("label", {}, "延期理由", reason));
      collect = async () => ({ days: Number(days.value), reason: reason.value.trim() });
    } else if (action === "request_suspend") {
      // 挂起: the day the clock runs again (00:00 that day); at most 30 days in all.
      const tomorrow = new Date(now() + 86400000 + 8 * 3600000).toISOString().slice(0, 10);
      const until = el("input", { type: "date", name: "until", min: tomorrow, required: true,
        "data-testid": "suspend-until" });
      const reason = el("textarea", { name: "reason", required: true, maxlength: 2000, rows: 3,
        placeholder: "请写明挂起原因（例如：等待市民补交材料、等待法院判决、天气原因）" });
      fields.push(el("label", {}, "恢复日期（当日零时恢复计时，累计不超过 30 天）", until),
        el("label", {}, "挂起理由", reason));
      collect = async () => ({ until: until.value, reason: reason.value.trim() });
    } else if (action === "note" || action === "complete") {
      const isNote = action === "note";
      const text = el("textarea", { name: isNote ? "text" : "result", required: true,
        maxlength: 4000, rows: 4,
        placeholder: isNote ? "现场情况、处置进展、需协调的事项…" : "办理结果：做了什么、结果如何" });
      const picker = photoPicker(ticket.number, { capture: ctx.capture });
      const place = ctx.withLocation && !isNote ? locator() : null;
      // A completion's photos are shown to the citizen on /track only when published.
      const publish = isNote ? null : el("input", { type: "checkbox", name: "publish" });
      fields.push(el("label", {}, isNote ? (me.role === "handler" ? "进展 / 协办意见" : "进展情况")
        : "办理结果", text), picker.node, place ? place.node : null,
      publish ? el("label", { class: "check" }, publish, "在市民查询页公开办理照片") : null);
      collect = async () => {
        const ids = await picker.ids();
        const body = { [isNote ? "text" : "result"]: text.value.trim() };
        if (ids.length) body.attachments = ids;
        if (publish && publish.checked) body.publish = true;
        const pos = place && place.position();
        if (pos) Object.assign(body, { lon: pos.lon, lat: pos.lat });
        return body;
      };
    }
    const form = el("form", { class: "form action-form", "data-testid": "form-" + action,
      novalidate: false }, el("h3", {}, actionLabel(action, me)), fields, error,
      el("div", { class: "form-buttons" }, send, cancel));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      submit(send, action, collect, error);
    });
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") closeForm();
    });
    return form;
  }

  const clock = clockOf(mine);
  fill(node,
    el("header", { class: "ticket-head" },
      el("div", { class: "ticket-title" },
        el("strong", { class: "ticket-number", "data-testid": "ticket-number" }, ticket.number),
        " ", statusBadge(ticket.status), " ", urgencyBadge(ticket.urgency),
        ticket.supervised ? el("span", { class: "badge supervised" }, "督办") : null),
      el("div", { class: "ticket-sub muted" },
        [zh("type", ticket.type), names.cat[ticket.category] || ticket.category,
          zh("channel", ticket.channel)].filter(Boolean).join(" · ")),
      mine ? el("div", { class: "ticket-mine" }, below
        ? `我方：下派任务（${names.dept[below.from] || below.from}下派） · ` +
          `${zh("delegation_status", below.status)} `
        : `我方：${zh("assignment_role", mine.role)} · ${zh("assignment_status", mine.status)} `,
      clockNode(clock)) : null),
    el("p", { class: "demand", "data-testid": "ticket-text" }, ticket.text),
    el("dl", { class: "facts" },
      fact("地址", ticket.address || "—"),
      fact("坐标", loc.lon != null
        ? [`${loc.lon.toFixed(6)}, ${loc.lat.toFixed(6)} `,
          el("a", { href: `geo:${loc.lat},${loc.lon}`, class: "geo-link" }, "导航")]
        : "—"),
      fact("网格", cellNode),
      fact("诉求人", citizenNodes(ticket.citizen)),
      fact("受理时间", fmtTime(ticket.created_at, true))),
    mapNode,
    bar, formArea,
    el("section", {}, el("h3", {}, "承办单位"), assignmentsList(ticket, names, me) || "—"),
    delegationsList(ticket, names, me),
    extensionsList(ticket),
    suspensionsList(ticket),
    el("section", {}, el("h3", {}, "办理记录"), timeline(ticket, names)));
  if (mapNode) {
    smallMap(mapNode, ticket, { onCellName: (name) => {
      cellNode.textContent = [name, place.community || names.area[loc.community],
        place.street || names.area[loc.street]].filter(Boolean).join(" / ");
    } });
  }
}

function actionLabel(action, me) {
  if (action === "note") return me.role === "grid_worker" ? "进展" : "备注/进展";
  return zh("action", action);
}
