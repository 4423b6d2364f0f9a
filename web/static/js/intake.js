/* The operator's screen (话务受理): one call on one screen, and the callback queue (回访).
 *
 * Everything goes through /api/v1: caller history (tickets?phone=), live classifier
 * suggestions (classify), the grid preview (grid/locate, grid/cells.geojson on a Leaflet map),
 * knowledge-base answers (kb/search, kb/articles), then intake (POST tickets) followed, for a
 * direct answer or a 110 transfer, by that action. User-provided text reaches the DOM only as
 * text (el / textContent).
 *
 * Keys (shown on the page): Ctrl+Enter 派单 · Alt+R 直接答复 · Alt+P 转110 · Alt+A 采纳建议 ·
 * Alt+L 定位 · Alt+1…9 知识库答复 · Esc Esc 清空 · Alt+N 新来电 · Alt+Q 回访队列 ·
 * in the callback queue: ↑↓ Enter, 1–5, Ctrl+Enter 记录回访, Alt+U 未接通 (lib/keys.js). */
import { callIdForIntake, markLogged, startCallPop } from "./callpop.js";
import { api, ApiError, describe, geojson } from "./lib/api.js";
import { countdown } from "./lib/clock.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { CALLBACK_FORM_KEYS, INTAKE_KEYS, resolveKey } from "./lib/keys.js";
import { BOOT, I18N, now, zh } from "./lib/page.js";
import { citizenText, normalizePhone } from "./lib/phones.js";
import { toast } from "./lib/ui.js";
import { L } from "./lib/vendor.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

const root = $("intake");

// How a geocoded point was found (grid/geocoder.py precisions).
const PRECISION = {
  landmark: "地标", intersection: "道路交叉口", road: "道路（取中点）", community: "社区（近似）",
  street: "街道（近似）", address: "地址", point: "地图/坐标点",
};
// House error fields → the input that holds them, and its label.
const FIELDS = {
  text: ["text", "诉求内容"], "citizen.phone": ["phone", "来电号码"],
  "citizen.name": ["name", "姓名"], address: ["address", "事发地址"],
  category: ["category", "事项分类"], type: ["type", "诉求类型"],
  urgency: ["urgency", "紧急程度"], answer: ["answer", "答复内容"],
  reason: ["transfer-reason", "转 110 原因"], lon: ["address", "事发位置"],
  lat: ["address", "事发位置"],
};
const REPEAT_REASON = { nearby: "附近同类诉求", same_caller: "同一来电人同类诉求" };
const KB_SHOWN = 9;

const state = {
  categories: new Map(), // code → {name, path}
  departments: new Map(), // code → name
  suggestion: null,
  suggestionFor: null,
  cellNames: new Map(), // cell code → name, from the map's cells and located places
  policeSet: false, // the operator accepted or set the police flag (else the server decides)
  location: null, // the last grid/locate answer
  point: null, // {lon, lat} picked on the map (else the address is geocoded)
  kbItems: [],
  article: null, // {id, version, title} chosen for a direct answer
  created: null, // a ticket logged in this call whose follow-up action failed
  busy: false,
  escAt: 0,
  recent: [],
  seq: { classify: 0, kb: 0, history: 0, locate: 0, cells: 0, callbacks: 0 },
  cb: { items: [], selected: null, ticket: null },
};

/* ------------------------------------------------------------ small helpers */

function debounce(fn, ms) {
  let timer = null;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/** Run a request; its answer (or failure) counts only if no newer request of the same kind
 * started meanwhile. */
async function latest(kind, request) {
  const n = ++state.seq[kind];
  try {
    const value = await request();
    return { value, fresh: n === state.seq[kind] };
  } catch (e) {
    if (n !== state.seq[kind]) return { value: null, fresh: false };
    throw e;
  }
}

/** The caller's number as the server will accept it, or null (no request for a partial
 * number while the operator is still typing). */
function validPhone() {
  return normalizePhone($("phone").value);
}

function categoryName(code) {
  if (!code) return "";
  const c = state.categories.get(code);
  return c ? c.path : code;
}

function departmentName(code) {
  return code ? state.departments.get(code) || code : "";
}

function statusBadge(status) {
  const cls = "badge status-" + String(status).toLowerCase();
  return el("span", { class: cls }, zh("status", status));
}

function heading(text, ...extra) {
  return el("h2", {}, text, ...extra);
}

/** A ticket number that opens the ticket. */
function numberButton(number) {
  return el("button", { type: "button", class: "link-button number",
    onclick: () => openTicket(number) }, number);
}

function reasonsList(reasons, testid) {
  if (!reasons || !reasons.length) return null;
  return el("ul", { class: "reasons", dataset: testid ? { testid } : undefined },
    reasons.map((r) => el("li", {}, r)));
}

/* ------------------------------------------------------------ reference data */

async function loadReference() {
  const typeSel = $("type");
  for (const code of Object.keys(I18N.type || {})) {
    typeSel.append(el("option", { value: code }, zh("type", code)));
  }
  const urgencySel = $("urgency");
  for (const code of Object.keys(I18N.urgency || {})) {
    urgencySel.append(el("option", { value: code }, zh("urgency", code)));
  }
  try {
    const [cats, depts] = await Promise.all([
      api("GET", "/api/v1/categories"), api("GET", "/api/v1/departments"),
    ]);
    for (const d of depts.items) state.departments.set(d.code, d.name);
    const select = $("category");
    const walk = (nodes, parents, group) => {
      for (const node of nodes) {
        const path = [...parents, node.name];
        state.categories.set(node.code, { name: node.name, path: path.join(" > ") });
        const indent = "\u3000".repeat(parents.length);
        const label = parents.length === 0 ? `${node.name}（大类）` : indent + node.name;
        group.append(el("option", { value: node.code }, label));
        walk(node.children || [], path, group);
      }
    };
    for (const top of cats.items) {
      const group = el("optgroup", { label: top.name });
      walk([top], [], group);
      select.append(group);
    }
  } catch (e) {
    toast("分类或部门加载失败：" + describe(e), "error");
  }
  renderSuggestion();
}

/* ------------------------------------------------------------ caller history */

const historySoon = debounce(loadHistory, 400);

async function loadHistory() {
  const box = $("history");
  const raw = $("phone").value.trim();
  const phone = validPhone();
  $("name").placeholder = "";
  if (!raw) {
    state.seq.history++;
    fill(box, heading("来电历史"), el("p", { class: "muted" }, "输入来电号码后显示"));
    $("phone-hint").textContent = "";
    return;
  }
  if (!phone) {
    state.seq.history++;
    $("phone-hint").textContent = "号码未输完或格式有误（手机 11 位，座机带区号）";
    fill(box, heading("来电历史"), el("p", { class: "muted" }, "等待完整号码…"));
    return;
  }
  $("phone-hint").textContent = "";
  try {
    const { value, fresh } = await latest("history", () =>
      api("GET", `/api/v1/tickets?phone=${enc(phone)}&per_page=10`));
    if (fresh) renderHistory(value, phone);
  } catch (e) {
    fill(box, heading("来电历史"), el("p", { class: "error" }, describe(e)));
  }
}

function renderHistory(page, phone) {
  const box = $("history");
  if (!page.items.length) {
    fill(box, heading("来电历史"),
      el("p", { class: "muted", dataset: { testid: "history-empty" } }, `${phone} 无历史工单（首次来电）`));
    return;
  }
  const named = page.items.find((i) => i.citizen && i.citizen.name);
  if (named && !$("name").value) $("name").placeholder = `上次登记：${named.citizen.name}`;
  fill(box,
    heading("来电历史", el("span", { class: "count", dataset: { testid: "history-total" } },
      `共 ${page.total} 件`)),
    el("ol", { class: "tickets" }, page.items.map((item) => ticketItem(item, "history-item"))));
}

/** One ticket in a list: number (opens it), status, time, category, demand text. */
function ticketItem(item, testid, extra) {
  return el("li", { class: "ticket-item", dataset: { testid, number: item.number } },
    el("div", { class: "ti-head" },
      numberButton(item.number),
      statusBadge(item.status),
      item.urgency && item.urgency !== "normal"
        ? el("span", { class: "badge " + item.urgency }, zh("urgency", item.urgency)) : null,
      el("span", { class: "muted" }, fmtTime(item.created_at))),
    extra || null,
    item.category ? el("div", { class: "muted" }, categoryName(item.category)) : null,
    el("div", { class: "ti-text" }, item.text || ""));
}

/* ------------------------------------------------------------ templates and phrases */

/** The picker: the templates of the chosen (or suggested) category first, then the common
 * phrases (grid/data/intake_phrases.json, in the page's boot data). */
function renderPhrases() {
  const phrases = (BOOT && BOOT.phrases) || { common: [], templates: {} };
  const category = $("category").value || (state.suggestion && state.suggestion.category) || "";
  const top = category.split(".")[0];
  const groups = [];
  for (const [code, items] of Object.entries(phrases.templates || {})) {
    if (!top || code === top) groups.push([`模板 · ${categoryName(code)}`, items]);
  }
  if (top && !groups.length) {
    // No template for this category: all of them, by category.
    for (const [code, items] of Object.entries(phrases.templates || {})) {
      groups.push([`模板 · ${categoryName(code)}`, items]);
    }
  }
  groups.push(["常用语", phrases.common || []]);
  const select = $("phrase");
  fill(select, el("option", { value: "" }, "选择后按 Enter 插入"),
    groups.map(([label, items]) => el("optgroup", { label },
      items.map((text) => el("option", { value: text }, text)))));
}

/** Put the chosen phrase into the demand at the caret (a template replaces an empty text). */
function insertPhrase() {
  const phrase = $("phrase").value;
  const text = $("text");
  if (!phrase) {
    text.focus();
    return;
  }
  const start = text.selectionStart ?? text.value.length;
  const end = text.selectionEnd ?? start;
  text.value = text.value.slice(0, start) + phrase + text.value.slice(end);
  const caret = start + phrase.length;
  text.focus();
  text.setSelectionRange(caret, caret);
  $("phrase").value = "";
  text.dispatchEvent(new Event("input", { bubbles: true })); // suggestions follow the text
}

/* ------------------------------------------------------------ classifier suggestions */

const classifySoon = debounce(classify, 300);

async function classify() {
  const text = $("text").value.trim();
  if (!text) {
    state.seq.classify++;
    state.suggestion = null;
    renderSuggestion();
    return;
  }
  try {
    const { value, fresh } = await latest("classify", () =>
      api("POST", "/api/v1/classify", { text: text.slice(0, 4000) }));
    if (!fresh) return;
    const changedCategory = !state.suggestion || state.suggestion.category !== value.category;
    state.suggestion = value;
    state.suggestionFor = text.slice(0, 4000);
    renderSuggestion();
    // Routing depends on the category: refresh the preview when it follows the suggestion.
    if (changedCategory && !$("category").value && state.location) locateSoon();
  } catch (e) {
    fill($("suggest"), el("span", { class: "error" }, "智能建议不可用：" + describe(e)));
  }
}

function renderSuggestion() {
  const s = state.suggestion;
  const box = $("suggest");
  const follow = (select, label) => { select.options[0].textContent = label; };
  follow($("type"), s && s.type ? `按建议（${zh("type", s.type)}）` : "按建议");
  follow($("urgency"), s && s.urgency ? `按建议（${zh("urgency", s.urgency)}）` : "按建议");
  follow($("category"), s && s.category ? `按建议（${categoryName(s.category)}）` : "按建议");
  updatePoliceWarning();
  if (!s) {
    fill(box, el("span", { class: "muted" }, "输入诉求内容后显示智能建议"));
    return;
  }
  const chip = (label, value, cls, testid) =>
    el("span", { class: "chip " + (cls || ""), dataset: { testid } },
      el("small", {}, label), value);
  fill(box,
    el("div", { class: "chips" },
      el("strong", {}, "建议："),
      chip("类型", zh("type", s.type) || "—", "", "suggest-type"),
      chip("分类", s.category ? categoryName(s.category) : "未识别", s.category ? "" : "doubt",
        "suggest-category"),
      chip("紧急", zh("urgency", s.urgency) || "—", s.urgency && s.urgency !== "normal" ? "hot" : "",
        "suggest-urgency"),
      chip("涉警", s.police_matter ? "是" : "否", s.police_matter ? "police" : "",
        "suggest-police"),
      el("button", { type: "button", class: "accept", dataset: { testid: "accept-suggestion" },
        onclick: acceptSuggestion }, "采纳建议 ", el("kbd", {}, "Alt"), "+", el("kbd", {}, "A"))),
    el("details", { class: "why" }, el("summary", {}, "依据"), reasonsList(s.reasons)));
}

/** Alt+A: apply the suggestion for the text as it is now. Pressed while the suggestion is still
 * on its way (typed within the debounce, or the request in flight), wait for it. */
async function acceptSuggestion() {
  const text = $("text").value.trim().slice(0, 4000);
  if (text && (!state.suggestion || state.suggestionFor !== text)) {
    classifySoon.cancel();
    fill($("suggest"), el("span", { class: "muted", dataset: { testid: "suggest-pending" } },
      "正在分析…"));
    await classify();
  }
  const s = state.suggestion;
  if (!s) {
    toast("暂无建议：请先输入诉求内容", "info");
    $("text").focus();
    return;
  }
  const categoryBefore = $("category").value;
  if (s.type) $("type").value = s.type;
  if (s.urgency) $("urgency").value = s.urgency;
  if (s.category) $("category").value = s.category;
  $("police").checked = Boolean(s.police_matter);
  state.policeSet = true;
  updatePoliceWarning();
  toast("已采纳建议：" + [zh("type", s.type), s.category ? categoryName(s.category) : null,
    zh("urgency", s.urgency)].filter(Boolean).join(" · "), "ok");
  if (state.location && $("category").value !== categoryBefore) locateSoon();
}

function updatePoliceWarning() {
  const suspected = (state.suggestion && state.suggestion.police_matter) || $("police").checked;
  $("police-warning").hidden = !suspected;
}

/* ------------------------------------------------------------ location and routing */

const locateSoon = debounce(locate, 700);

function currentCategory() {
  return $("category").value || (state.suggestion && state.suggestion.category) || null;
}

async function locate() {
  locateSoon.cancel();
  const address = $("address").value.trim();
  if (!state.point && !address) {
    state.seq.locate++;
    state.location = null;
    renderLocation();
    return;
  }
  const params = new URLSearchParams();
  if (state.point) {
    params.set("lon", String(state.point.lon));
    params.set("lat", String(state.point.lat));
    params.set("crs", "WGS84");
  }
  if (address) params.set("address", address.slice(0, 200));
  const category = currentCategory();
  if (category) params.set("category", category);
  const phone = validPhone();
  if (phone) params.set("phone", phone);
  $("location").classList.add("loading");
  try {
    const { value, fresh } = await latest("locate", () =>
      api("GET", "/api/v1/grid/locate?" + params.toString()));
    if (!fresh) return;
    state.location = value;
    renderLocation();
    showOnMap(value);
    // The suggestion's category can land while this was asked without it (an operator who
    // types the address at once): routing and repeat candidates depend on it, so ask again.
    if (currentCategory() !== category) locateSoon();
  } catch (e) {
    fill($("location"), heading("定位"), el("p", { class: "error" }, describe(e)));
  } finally {
    $("location").classList.remove("loading");
  }
}

function renderLocation() {
  const r = state.location;
  if (!r) {
    fill($("location"), heading("定位"), el("p", { class: "muted" }, "输入地址或在地图上点选"));
    fill($("routing"), heading("承办建议"),
      el("p", { class: "muted" }, "定位后显示主办、协办部门和值班网格员"));
    fill($("repeats"), heading("疑似重复"), el("p", { class: "muted" }, zh("ui", "empty")));
    highlightCells();
    return;
  }
  renderPlace(r.location);
  renderRouting(r.routing || {});
  renderRepeats(r.repeat_candidates || []);
  highlightCells();
}

function renderPlace(loc) {
  const names = loc.names || {};
  if (loc.cell && names.cell) state.cellNames.set(loc.cell, names.cell);
  const path = [names.street || loc.street, names.community || loc.community]
    .filter(Boolean).join(" > ");
  const precision = loc.precision ? PRECISION[loc.precision] || loc.precision : null;
  const hasPoint = loc.lon != null && loc.lat != null;
  const coords = hasPoint
    ? `${Number(loc.lon).toFixed(6)}, ${Number(loc.lat).toFixed(6)}` +
      (state.point ? "（地图点选）" : "")
    : null;
  fill($("location"),
    heading("定位",
      precision ? el("span", { class: "badge", dataset: { testid: "precision" } }, precision)
        : null),
    loc.cell
      ? el("p", { class: "cell-line" },
        path ? el("span", {}, path + " > ") : null,
        el("strong", { dataset: { testid: "located-cell", code: loc.cell }, title: loc.cell },
          names.cell || loc.cell))
      : el("p", { class: "warn-line", dataset: { testid: "located-cell", code: "" } },
        path ? `${path}（未定位到网格）` : "未定位到网格"),
    (loc.flags || []).length
      ? el("p", { class: "flags" },
        loc.flags.map((f) => el("span", { class: "badge flag" }, zh("flag", f))))
      : null,
    coords ? el("p", { class: "muted coords" }, coords) : null,
    reasonsList(loc.reasons));
}

function renderRouting(routing) {
  const co = routing.co_handler_names || [];
  let worker = routing.on_site ? "当前无值班网格员" : "无需网格员到场";
  if (routing.grid_worker) worker = `${routing.grid_worker_name || routing.grid_worker}（值班）`;
  fill($("routing"),
    heading("承办建议"),
    el("dl", { class: "facts" },
      el("dt", {}, "主办"),
      el("dd", { dataset: { testid: "routing-lead" } },
        routing.lead ? routing.lead_name || departmentName(routing.lead) : "待派单员选择"),
      el("dt", {}, "协办"),
      el("dd", {}, co.length ? co.join("、") : "无"),
      el("dt", {}, "网格员"),
      el("dd", { dataset: { testid: "routing-worker" } }, worker)),
    reasonsList(routing.reasons));
}

function renderRepeats(repeats) {
  if (!repeats.length) {
    fill($("repeats"), heading("疑似重复"), el("p", { class: "muted" }, zh("ui", "empty")));
    return;
  }
  const why = (c) => (REPEAT_REASON[c.reason] || c.reason) +
    (c.distance_m != null ? ` · 相距 ${Math.round(c.distance_m)} 米` : "");
  fill($("repeats"),
    heading("疑似重复", el("span", { class: "badge hot" }, String(repeats.length))),
    el("p", { class: "hint" }, "可告知来电人已有工单在办；并单由派单员处理。"),
    el("ol", { class: "tickets" }, repeats.map((c) => el("li", {
      class: "ticket-item", dataset: { testid: "repeat-item", number: c.number },
    },
    el("div", { class: "ti-head" },
      numberButton(c.number), statusBadge(c.status),
      el("span", { class: "muted" }, fmtTime(c.created_at))),
    el("div", { class: "muted" }, why(c)),
    c.category ? el("div", { class: "muted" }, categoryName(c.category)) : null))));
}

/* ------------------------------------------------------------ the map */

const map = { leaflet: null, cells: null, marker: null, hasGrid: false };

/** Out of the tab order: Tab goes from the form to the history and the knowledge base, not
 * through the map's hundreds of shapes (the map itself: Alt+M, then arrows and +/−). */
function untabbable(node) {
  if (node) node.setAttribute("tabindex", "-1");
}

function initMap() {
  if (!L) return;
  const m = L.map("map", { attributionControl: false, minZoom: 8, maxZoom: 18 })
    .setView([35.2, 114.67], 12);
  map.leaflet = m;
  untabbable(m.getContainer());
  m.getContainer().querySelectorAll(".leaflet-control a").forEach(untabbable);
  if (root.dataset.tiles) L.tileLayer(root.dataset.tiles, { maxZoom: 19 }).addTo(m);
  map.cells = L.geoJSON(null, {
    style: cellStyle,
    onEachFeature: (feature, layer) => {
      const p = feature.properties || {};
      layer.bindTooltip(el("span", {}, p.name || p.code || ""), { sticky: true });
      layer.on("add", () => untabbable(layer.getElement()));
    },
  }).addTo(m);
  m.on("moveend", loadCellsSoon);
  m.on("click", (e) => setPoint(e.latlng));
  api("GET", "/api/v1/grid/versions").then((v) => {
    const active = (v.items || []).find((g) => g.active);
    if (!active) {
      fill($("location"), heading("定位"), el("p", { class: "muted" }, zh("flag", "no_grid")));
      return;
    }
    map.hasGrid = true;
    if (active.bbox) {
      const [w, s, e, n] = active.bbox;
      m.fitBounds([[s, w], [n, e]]);
    }
    loadCells();
  }).catch((e) => toast("网格加载失败：" + describe(e), "error"));
}

const loadCellsSoon = debounce(loadCells, 150);

async function loadCells() {
  const m = map.leaflet;
  if (!m || !map.hasGrid) return; // no grid imported: nothing to draw (and no 404s)
  const b = m.getBounds();
  const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v)).toFixed(6);
  const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180),
    clamp(b.getNorth(), 90)].join(",");
  const zoom = Math.max(0, Math.min(22, Math.round(m.getZoom())));
  const url = `/api/v1/grid/cells.geojson?bbox=${enc(bbox)}&zoom=${zoom}`;
  try {
    const { value, fresh } = await latest("cells", () => geojson(url));
    if (!fresh || !value) return;
    map.cells.clearLayers();
    map.cells.addData(value);
    for (const f of value.features || []) {
      const p = f.properties || {};
      if (p.code && p.name) state.cellNames.set(p.code, p.name);
    }
    highlightCells();
  } catch (e) {
    // The map is a help, not a requirement: the address path still works.
  }
}

function highlighted(code) {
  const loc = state.location && state.location.location;
  return Boolean(loc && code && (code === loc.cell || (!loc.cell && code === loc.community)));
}

function cellStyle(feature) {
  const code = feature && feature.properties && feature.properties.code;
  return highlighted(code)
    ? { color: "#b71c1c", weight: 3, opacity: 1, fillColor: "#ef5350", fillOpacity: 0.35 }
    : { color: "#3949ab", weight: 1, opacity: 0.7, fillColor: "#90caf9", fillOpacity: 0.06 };
}

function highlightCells() {
  if (!map.cells) return;
  map.cells.setStyle(cellStyle);
  map.cells.eachLayer((layer) => {
    if (highlighted(layer.feature && layer.feature.properties.code)) layer.bringToFront();
  });
  if (!state.location && map.marker) {
    map.marker.remove();
    map.marker = null;
  }
}

function placeMarker(lat, lon) {
  if (!map.leaflet) return;
  if (!map.marker) {
    map.marker = L.marker([lat, lon], { draggable: true, keyboard: false,
      title: "事发位置（可拖动）" }).addTo(map.leaflet);
    map.marker.on("dragend", () => setPoint(map.marker.getLatLng()));
  } else {
    map.marker.setLatLng([lat, lon]);
  }
}

function setPoint(latlng) {
  state.point = { lon: Number(latlng.lng.toFixed(6)), lat: Number(latlng.lat.toFixed(6)) };
  placeMarker(state.point.lat, state.point.lon);
  locate();
}

function showOnMap(r) {
  const loc = r.location;
  if (!map.leaflet || loc.lat == null || loc.lon == null) return;
  placeMarker(loc.lat, loc.lon);
  if (!state.point) {
    map.leaflet.setView([loc.lat, loc.lon], Math.max(map.leaflet.getZoom(), 15));
  }
}

/* ------------------------------------------------------------ knowledge base */

const kbSoon = debounce(searchKb, 500);

async function searchKb() {
  const q = ($("kb-q").value.trim() || $("text").value.trim()).slice(0, 200);
  if (!q) {
    state.seq.kb++;
    state.kbItems = [];
    renderKb();
    return;
  }
  try {
    const { value, fresh } = await latest("kb", () =>
      api("GET", `/api/v1/kb/search?q=${enc(q)}&limit=${KB_SHOWN}`));
    if (!fresh) return;
    state.kbItems = value.items;
    renderKb();
  } catch (e) {
    fill($("kb-list"), el("li", { class: "error" }, describe(e)));
  }
}

function renderKb() {
  const list = $("kb-list");
  if (!state.kbItems.length) {
    fill(list, ($("kb-q").value.trim() || $("text").value.trim())
      ? el("li", { class: "muted" }, "无匹配的知识库条目") : null);
    return;
  }
  fill(list, state.kbItems.map((item, i) => el("li", {
    class: state.article && state.article.id === item.article_id ? "chosen" : "",
    dataset: { testid: "kb-item", article: String(item.article_id) },
  },
  el("button", { type: "button", class: "kb-pick", onclick: () => pickArticle(i) },
    el("kbd", {}, "Alt"), "+", el("kbd", {}, String(i + 1)), " ",
    el("strong", {}, item.title)),
  el("div", { class: "muted" }, [item.department ? departmentName(item.department) : null,
    item.category ? categoryName(item.category) : null].filter(Boolean).join(" · ")),
  el("div", { class: "snippet" }, item.snippet || ""))));
}

async function pickArticle(index) {
  const item = state.kbItems[index];
  if (!item) {
    toast(`知识库第 ${index + 1} 条不存在`, "info");
    return;
  }
  try {
    const article = await api("GET", `/api/v1/kb/articles/${enc(item.article_id)}`);
    state.article = { id: article.id, version: article.version, title: article.title };
    $("answer").value = article.body;
    $("answer-source").textContent = `来自知识库：${article.title}（第 ${article.version} 版）`;
    renderKb();
    toast(`已选用：${article.title}　按 Alt+R 直接答复`, "ok");
  } catch (e) {
    toast(describe(e), "error");
  }
}

/* ------------------------------------------------------------ logging the call */

function ticketBody(extra) {
  const value = (id) => $(id).value || null;
  const body = {
    channel: "phone",
    text: $("text").value,
    citizen: {
      name: $("name").value.trim() || null,
      phone: $("phone").value.trim() || null,
      anonymous: $("anonymous").checked,
      confidential: $("confidential").checked,
      direct_contact: $("direct-contact").checked,
    },
    address: $("address").value.trim() || null,
    type: value("type"),
    category: value("category"),
    urgency: value("urgency"),
  };
  if (state.point) {
    Object.assign(body, { lon: state.point.lon, lat: state.point.lat, crs: "WGS84" });
  }
  if (state.policeSet) body.police_matter = $("police").checked;
  const callId = callIdForIntake(); // the call the demand came in on (its contact carries it)
  if (callId) body.call_id = callId;
  return Object.assign(body, extra || {});
}

/** The ticket of this call: logged now, or the one already logged when a follow-up failed. */
async function ensureTicket(extra) {
  if (state.created) {
    // Read it again: its version may have moved since (and it must not be logged twice).
    state.created = await api("GET", `/api/v1/tickets/${enc(state.created.number)}`);
    return state.created;
  }
  const body = ticketBody(extra);
  const ticket = await api("POST", "/api/v1/tickets", body);
  markLogged(body.call_id);
  state.created = ticket;
  return ticket;
}

const ACTION_BUTTONS = ["do-dispatch", "do-answer", "do-110", "transfer-confirm", "warning-110"];

async function logCall(kind) {
  if (state.busy) return;
  clearFormError();
  const answer = $("answer").value.trim();
  const reason = $("transfer-reason").value.trim();
  if (!state.created && !$("text").value.trim()) {
    showFormError("请先填写诉求内容", "text");
    return;
  }
  if (kind === "answer" && !answer) {
    showFormError("请先选用知识库答复（Alt+1…9）或填写答复内容", "answer");
    return;
  }
  if (kind === "110" && !reason) {
    showFormError("请填写转 110 的原因", "reason");
    return;
  }
  state.busy = true;
  ACTION_BUTTONS.forEach((id) => { $(id).disabled = true; });
  try {
    let ticket = await ensureTicket(kind === "110" ? { police_matter: true } : null);
    const path = `/api/v1/tickets/${enc(ticket.number)}/actions/`;
    if (kind === "answer") {
      const body = { version: ticket.version, answer };
      if (state.article) {
        body.article_id = state.article.id;
        body.article_version = state.article.version;
      }
      ticket = await api("POST", path + "answer", body);
    } else if (kind === "110") {
      ticket = await api("POST", path + "transfer_110", { version: ticket.version, reason });
    }
    done(ticket, kind);
  } catch (e) {
    showApiError(e);
    if (state.created) {
      showResult(state.created, "logged-only");
    }
  } finally {
    state.busy = false;
    ACTION_BUTTONS.forEach((id) => { $(id).disabled = false; });
  }
}

const DONE_LABEL = {
  dispatch: "已受理，提交派单", answer: "已直接答复", "110": "已转 110",
  "logged-only": "已受理（后续操作未完成）",
};

function done(ticket, kind) {
  showResult(ticket, kind);
  state.recent.unshift({ ticket, kind });
  state.recent.length = Math.min(state.recent.length, 8);
  renderRecent();
  toast(`${DONE_LABEL[kind]}：${ticket.number}`, "ok");
  resetForm();
}

function showResult(ticket, kind) {
  const box = $("result");
  box.hidden = false;
  const tone = { "logged-only": "partial", 110: "police" }[kind] || "ok";
  box.className = "result panel " + tone;
  $("result-label").textContent = DONE_LABEL[kind];
  $("result-number").textContent = ticket.number;
  fill($("result-status"), zh("status", ticket.status));
  $("result-text").textContent = ticket.text || "";
  const notes = [];
  if (ticket.category) notes.push(categoryName(ticket.category));
  const cell = ticket.location && ticket.location.cell;
  const cellName = cell && ((ticket.location.names || {}).cell || state.cellNames.get(cell));
  if (cell) notes.push("网格 " + (cellName || "（名称未知）"));
  if (ticket.routing && ticket.routing.lead) {
    notes.push("建议主办 " + departmentName(ticket.routing.lead));
  }
  if (kind === "logged-only") notes.push("工单已建立；可再次点击直接答复/转110/派单，不会重复建单");
  $("result-note").textContent = notes.join(" · ");
  $("result-note").title = cell ? "网格编码：" + cell : "";
  $("result-open").onclick = () => openTicket(ticket.number);
}

function renderRecent() {
  $("recent").hidden = !state.recent.length;
  fill($("recent-list"), state.recent.map(({ ticket, kind }) => el("li", {},
    numberButton(ticket.number),
    " ", statusBadge(ticket.status), " ",
    el("span", { class: "muted" }, DONE_LABEL[kind]), " ",
    el("span", { class: "ti-text" }, ticket.text || ""))));
}

function clearFormError() {
  const box = $("form-error");
  box.hidden = true;
  box.replaceChildren();
  root.querySelectorAll("[aria-invalid=true]").forEach((n) => n.removeAttribute("aria-invalid"));
}

function showFormError(message, field) {
  const box = $("form-error");
  fill(box, message);
  box.hidden = false;
  const target = FIELDS[field];
  if (target) {
    const input = $(target[0]);
    input.setAttribute("aria-invalid", "true");
    if (input === $("transfer-reason")) $("transfer-row").hidden = false;
    input.focus();
  }
}

function showApiError(e) {
  if (!(e instanceof ApiError)) {
    showFormError(describe(e));
    return;
  }
  const target = FIELDS[e.field];
  if (!target) {
    showFormError(describe(e), e.field);
    return;
  }
  // The field by its Chinese name, not its code ("text: 不能为空" → 「诉求内容」不能为空).
  const detail = String(e.message || "").replace(/^[\w.]+:\s*/, "");
  showFormError(`${zh("error", e.code)}：「${target[1]}」${detail}　请检查「${target[1]}」`,
    e.field);
}

function formIsEmpty() {
  return !["phone", "name", "text", "address", "answer"].some((id) => $(id).value.trim()) &&
    !state.point && !state.created;
}

function resetForm() {
  $("call-form").reset();
  for (const key of Object.keys(state.seq)) {
    if (key !== "cells" && key !== "callbacks") state.seq[key]++;
  }
  [historySoon, classifySoon, locateSoon, kbSoon].forEach((d) => d.cancel());
  Object.assign(state, {
    suggestion: null, suggestionFor: null, policeSet: false, location: null, point: null, kbItems: [], article: null,
    created: null, escAt: 0,
  });
  $("transfer-row").hidden = true;
  $("answer-source").textContent = "";
  $("phone-hint").textContent = "";
  $("name").placeholder = "";
  clearFormError();
  renderSuggestion();
  renderLocation();
  renderKb();
  fill($("history"), heading("来电历史"), el("p", { class: "muted" }, "输入来电号码后显示"));
  $("phone").focus();
}

function openTransfer() {
  showTab("call");
  const row = $("transfer-row");
  row.hidden = false;
  const input = $("transfer-reason");
  if (!input.value.trim()) input.value = "涉警事项，转 110 处置";
  input.focus();
  input.select();
}

function closeTransfer() {
  $("transfer-row").hidden = true;
  $("text").focus();
}

/* ------------------------------------------------------------ ticket viewer */

async function openTicket(number) {
  const dialog = $("ticket-dialog");
  $("td-title").textContent = "工单 " + number;
  fill($("td-body"), el("p", { class: "muted" }, zh("ui", "loading")));
  if (!dialog.open) dialog.showModal();
  $("td-close").focus();
  try {
    const tk = await api("GET", `/api/v1/tickets/${enc(number)}`);
    fill($("td-body"), ticketDetails(tk, true));
  } catch (e) {
    fill($("td-body"), el("p", { class: "error" }, describe(e)));
  }
}

/** Where a ticket is, by names (community > cell), the cell's code in the tooltip. */
function placeName(loc) {
  if (!loc || !loc.cell) return "";
  const names = loc.names || {};
  const cell = names.cell || state.cellNames.get(loc.cell) || "（名称未知）";
  return el("span", { title: "网格编码：" + loc.cell, dataset: { testid: "detail-cell" } },
    [names.community, cell].filter(Boolean).join(" > "));
}

function ticketDetails(tk, withEvents) {
  const facts = [
    ["状态", statusBadge(tk.status)], ["渠道", zh("channel", tk.channel)],
    ["类型", zh("type", tk.type)], ["分类", categoryName(tk.category)],
    ["紧急程度", zh("urgency", tk.urgency)], ["受理时间", fmtTime(tk.created_at, true)],
    ["诉求人", citizenText(tk.citizen)], ["地址", tk.address || ""],
    ["网格", placeName(tk.location)],
  ];
  const handling = (tk.assignments || []).filter((a) => a.status !== "cancelled");
  const events = withEvents ? tk.events || [] : [];
  return [
    el("dl", { class: "facts wide" },
      facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h3", {}, "诉求内容"),
    el("p", { class: "ti-text full", dataset: { testid: "detail-text" } }, tk.text || ""),
    handling.length ? [el("h3", {}, "承办"),
      el("ul", { class: "assignments" }, handling.map(assignmentItem))] : null,
    events.length ? [el("h3", {}, "流转记录"),
      el("ol", { class: "events" }, events.map(eventItem))] : null,
  ];
}

function assignmentItem(a) {
  return el("li", {},
    el("strong", {}, a.department_name || departmentName(a.department)), " ",
    zh("assignment_role", a.role), " · ", zh("assignment_status", a.status),
    a.result ? el("div", { class: "result-of" }, "办理结果：", a.result) : null,
    a.return_reason ? el("div", { class: "muted" }, "退单原因：", a.return_reason) : null);
}

function eventItem(ev) {
  return el("li", {},
    el("span", { class: "muted" }, fmtTime(ev.at)), " ",
    el("strong", {}, zh("action", ev.action)), " ",
    ev.to && ev.to !== ev.from ? `→ ${zh("status", ev.to)} ` : "",
    el("span", { class: "muted", title: ev.actor || "" }, ev.actor_name || ev.actor || ""),
    ev.reason ? el("div", { class: "muted" }, ev.reason) : null);
}

/* ------------------------------------------------------------ tabs */

function showTab(name) {
  const call = name === "call";
  $("tab-call").setAttribute("aria-selected", String(call));
  $("tab-callbacks").setAttribute("aria-selected", String(!call));
  $("tab-call").tabIndex = call ? 0 : -1;
  $("tab-callbacks").tabIndex = call ? -1 : 0;
  $("pane-call").hidden = !call;
  $("pane-callbacks").hidden = call;
  if (call) {
    if (map.leaflet) map.leaflet.invalidateSize();
  } else {
    loadCallbacks(true);
  }
}

/* ------------------------------------------------------------ callback queue (回访) */

async function loadCallbacks(focus) {
  try {
    const { value, fresh } = await latest("callbacks",
      () => api("GET", "/api/v1/callbacks?limit=200"));
    if (!fresh) return;
    state.cb.items = value.items;
    $("cb-count").textContent = String(value.total);
    renderCallbackRows();
    if (focus) {
      const row = selectedRow() || $("cb-rows").querySelector("tr");
      if (row) row.focus();
    }
  } catch (e) {
    $("cb-count").textContent = "!";
    fill($("cb-rows"), el("tr", {}, el("td", { colspan: 7, class: "error" }, describe(e))));
  }
}

function selectedRow() {
  const n = state.cb.selected;
  return n ? $("cb-rows").querySelector(`tr[data-number="${CSS.escape(n)}"]`) : null;
}

function renderCallbackRows() {
  const items = state.cb.items;
  $("cb-empty").hidden = items.length > 0;
  if (state.cb.selected && !items.some((i) => i.number === state.cb.selected)) {
    state.cb.selected = null;
  }
  fill($("cb-rows"), items.map((item) => {
    const clock = countdown(item.callback.deadline, null, now());
    const tone = item.callback.overdue ? "overdue" : clock.state;
    return el("tr", {
      tabindex: "0", class: item.number === state.cb.selected ? "selected" : "",
      dataset: { number: item.number, testid: "callback-row" },
      onclick: () => openCallback(item.number),
    },
    el("td", {}, el("strong", {}, item.number)),
    el("td", { class: "clock " + tone }, clock.text || "—"),
    el("td", { dataset: { testid: "callback-attempts" } }, String(item.callback.attempts || 0)),
    el("td", {}, citizenText(item.citizen)),
    el("td", {}, categoryName(item.category)),
    el("td", {}, departmentName(item.department)),
    el("td", { class: "ti-text", title: item.text || "" }, item.text || ""));
  }));
}

function onQueueKey(ev) {
  const row = ev.target.closest && ev.target.closest("tr[data-number]");
  if (!row) return;
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    const next = ev.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
    if (next) next.focus();
    ev.preventDefault();
  } else if (ev.key === "Enter" || ev.key === " ") {
    openCallback(row.dataset.number, true);
    ev.preventDefault();
  }
}

async function openCallback(number, focusForm) {
  state.cb.selected = number;
  state.cb.ticket = null;
  for (const tr of $("cb-rows").querySelectorAll("tr")) {
    tr.classList.toggle("selected", tr.dataset.number === number);
  }
  const box = $("cb-detail");
  fill(box, el("p", { class: "muted" }, zh("ui", "loading")));
  try {
    const tk = await api("GET", `/api/v1/tickets/${enc(number)}`);
    if (state.cb.selected !== number) return;
    state.cb.ticket = tk;
    renderCallbackDetail(tk);
    if (focusForm) box.querySelector("input[name=cb-sat]").focus();
  } catch (e) {
    fill(box, el("p", { class: "error" }, describe(e)));
  }
}

function radios(name, options, testid) {
  return el("div", { class: "radios", role: "radiogroup", dataset: { testid } },
    options.map(([value, label, key]) => el("label", { class: "radio" },
      el("input", { type: "radio", name, value }), " ", label, " ", el("kbd", {}, key))));
}

function renderCallbackDetail(tk) {
  const phone = tk.citizen && tk.citizen.phone;
  fill($("cb-detail"),
    el("div", { class: "cb-title" },
      el("h2", {}, tk.number), statusBadge(tk.status),
      el("span", { class: "muted", dataset: { testid: "callback-attempts-detail" } },
        `已拨打 ${tk.callback.attempts || 0} 次`)),
    el("p", { class: "cb-phone" }, "回访电话：",
      el("strong", { dataset: { testid: "callback-phone" } }, phone || "无"),
      tk.citizen && tk.citizen.name ? `（${tk.citizen.name}）` : ""),
    ticketDetails(tk, false),
    el("div", { class: "cb-form", onkeydown: onCallbackFormKey },
      el("h3", {}, "回访结果"),
      el("p", { class: "muted" }, "满意度"),
      radios("cb-sat", [["satisfied", zh("satisfaction", "satisfied"), "1"],
        ["basically_satisfied", zh("satisfaction", "basically_satisfied"), "2"],
        ["dissatisfied", zh("satisfaction", "dissatisfied"), "3"]], "callback-satisfaction"),
      el("p", { class: "muted" }, "解决情况"),
      radios("cb-res", [["true", zh("resolved", "true"), "4"],
        ["false", zh("resolved", "false"), "5"]], "callback-resolved"),
      el("label", {}, "备注",
        el("input", { id: "cb-reason", maxlength: "2000",
          dataset: { testid: "callback-reason" } })),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", id: "cb-record",
          dataset: { testid: "callback-record" }, onclick: () => recordCallback(true) },
        "记录回访 ", el("kbd", {}, "Ctrl"), "+", el("kbd", {}, "Enter")),
        el("button", { type: "button", id: "cb-unreached",
          dataset: { testid: "callback-unreached" }, onclick: () => recordCallback(false) },
        "未接通 ", el("kbd", {}, "Alt"), "+", el("kbd", {}, "U"))),
      el("p", { class: "hint" }, "不满意或未解决将转重办并督办；多次未接通（默认 3 次）将记为无法联系并归档。"),
      el("div", { class: "form-error", id: "cb-error", role: "alert", hidden: true })));
}

function onCallbackFormKey(ev) {
  if (ev.target.id === "cb-reason") return;
  const pick = resolveKey(CALLBACK_FORM_KEYS, ev, "form");
  if (!pick) return;
  const input = $("cb-detail").querySelector(`input[name=${pick.action}][value=${pick.arg}]`);
  if (input) {
    input.checked = true;
    input.focus();
  }
  ev.preventDefault();
}

function callbackOutcome(reached, body, after) {
  if (!reached && after.status === "ARCHIVED") return "多次未接通，记为无法联系并归档";
  if (!reached) return `第 ${after.callback.attempts} 次未接通已记录`;
  if (after.status === "REOPENED") {
    return `${zh("satisfaction", body.satisfaction)}/${zh("resolved", String(body.resolved))}` +
      "，已转重办";
  }
  return `回访已记录，${zh("status", after.status)}`;
}

async function recordCallback(reached) {
  const tk = state.cb.ticket;
  if (!tk || state.busy) return;
  const box = $("cb-detail");
  const error = $("cb-error");
  error.hidden = true;
  const sat = box.querySelector("input[name=cb-sat]:checked");
  const res = box.querySelector("input[name=cb-res]:checked");
  const reason = $("cb-reason").value.trim();
  const body = { version: tk.version, reached, via: "phone" };
  if (reason) body.reason = reason;
  if (reached) {
    if (!sat || !res) {
      error.textContent = "请选择满意度（1–3）和解决情况（4–5）";
      error.hidden = false;
      box.querySelector(sat ? "input[name=cb-res]" : "input[name=cb-sat]").focus();
      return;
    }
    Object.assign(body, { satisfaction: sat.value, resolved: res.value === "true" });
  }
  state.busy = true;
  try {
    const after = await api("POST", `/api/v1/tickets/${enc(tk.number)}/actions/callback`, body);
    const message = `${after.number}：` + callbackOutcome(reached, body, after);
    toast(message, "ok");
    const index = state.cb.items.findIndex((i) => i.number === tk.number);
    await loadCallbacks(false);
    if (after.status === "REVIEWED") {
      openCallback(after.number);
    } else {
      const next = state.cb.items[Math.min(Math.max(index, 0), state.cb.items.length - 1)];
      state.cb.ticket = null;
      fill($("cb-detail"),
        el("p", { class: "ok", dataset: { testid: "callback-done" } }, message));
      if (next) {
        state.cb.selected = next.number;
        renderCallbackRows();
        const row = selectedRow();
        if (row) row.focus();
      }
    }
  } catch (e) {
    error.textContent = describe(e);
    error.hidden = false;
  } finally {
    state.busy = false;
  }
}

/* ------------------------------------------------------------ keyboard */

/** Esc on the call: close the 110 row, else clear the form on a second Esc within 1.5 s. */
function escape() {
  if (!$("transfer-row").hidden) {
    closeTransfer();
  } else if (!formIsEmpty()) {
    if (Date.now() - state.escAt < 1500) {
      resetForm();
      toast("已清空，可受理下一个来电", "info");
    } else {
      state.escAt = Date.now();
      toast("再按一次 Esc 清空本次来电", "info");
    }
  }
}

/** What each action of the page's keyboard map (INTAKE_KEYS) does. */
const KEY_ACTIONS = {
  new_call: () => {
    if (!state.created) $("result").hidden = true;
    showTab("call");
    $("phone").focus();
  },
  callbacks: () => showTab("callbacks"),
  article: (n) => pickArticle(Number(n) - 1),
  accept_suggestion: acceptSuggestion,
  kb_search: () => { $("kb-q").focus(); $("kb-q").select(); },
  phrases: () => {
    renderPhrases();
    $("phrase").focus();
  },
  map: () => $("map").focus(),
  locate: () => {
    if ($("address").value.trim()) locate();
    else $("address").focus();
  },
  answer: () => logCall("answer"),
  transfer_110: openTransfer,
  dispatch: () => logCall("dispatch"),
  clear: escape,
  callback_reached: () => recordCallback(true),
  callback_unreached: () => recordCallback(false),
};

function onKey(ev) {
  if ($("ticket-dialog").open) return; // Esc closes it natively
  const key = resolveKey(INTAKE_KEYS, ev, $("pane-call").hidden ? "callbacks" : "call");
  if (!key) return;
  ev.preventDefault();
  KEY_ACTIONS[key.action](key.arg);
}

function onFieldEnter(id, action) {
  $(id).addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ev.isComposing) {
      ev.preventDefault();
      action();
    }
  });
}

/* ------------------------------------------------------------ wiring */

function wire() {
  $("call-form").addEventListener("submit", (ev) => ev.preventDefault());
  // A new call starts with its first keystroke: the last call's result goes.
  $("call-form").addEventListener("input", () => {
    if (!state.created) $("result").hidden = true;
  });
  $("phone").addEventListener("input", () => {
    historySoon();
    if (state.location) locateSoon();
  });
  $("text").addEventListener("input", () => {
    classifySoon();
    if (!$("kb-q").value.trim()) kbSoon();
  });
  $("kb-q").addEventListener("input", kbSoon);
  $("address").addEventListener("input", () => {
    state.point = null; // a typed address replaces a picked point
    locateSoon();
  });
  $("category").addEventListener("change", () => { if (state.location) locate(); });
  $("police").addEventListener("change", () => {
    state.policeSet = true;
    updatePoliceWarning();
  });
  $("answer").addEventListener("input", () => {
    if (!$("answer").value.trim()) {
      state.article = null;
      $("answer-source").textContent = "";
      renderKb();
    }
  });
  onFieldEnter("phone", () => $(validPhone() ? "text" : "name").focus());
  onFieldEnter("name", () => $("text").focus());
  onFieldEnter("address", locate);
  onFieldEnter("kb-q", searchKb);
  onFieldEnter("phrase", insertPhrase);
  $("phrase-insert").addEventListener("click", insertPhrase);
  $("phrase").addEventListener("focus", () => { if (!$("phrase").value) renderPhrases(); });
  onFieldEnter("transfer-reason", () => logCall("110"));
  $("locate").addEventListener("click", locate);
  $("do-dispatch").addEventListener("click", () => logCall("dispatch"));
  $("do-answer").addEventListener("click", () => logCall("answer"));
  $("do-110").addEventListener("click", openTransfer);
  $("warning-110").addEventListener("click", openTransfer);
  $("transfer-confirm").addEventListener("click", () => logCall("110"));
  $("transfer-cancel").addEventListener("click", closeTransfer);
  $("do-clear").addEventListener("click", resetForm);
  $("tab-call").addEventListener("click", () => showTab("call"));
  $("tab-callbacks").addEventListener("click", () => showTab("callbacks"));
  root.querySelector(".tabs").addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    const toCall = $("tab-call").getAttribute("aria-selected") !== "true";
    showTab(toCall ? "call" : "callbacks");
    $(toCall ? "tab-call" : "tab-callbacks").focus();
    ev.preventDefault();
  });
  $("cb-refresh").addEventListener("click", () => loadCallbacks(false));
  $("cb-rows").addEventListener("keydown", onQueueKey);
  $("td-close").addEventListener("click", () => $("ticket-dialog").close());
  document.addEventListener("keydown", onKey);
  // Countdowns in the queue move with the clock.
  setInterval(() => { if (!$("pane-callbacks").hidden) renderCallbackRows(); }, 30000);
}

wire();
loadReference().then(renderPhrases);
initMap();
loadCallbacks(false);
startCallPop({
  onCaller: (phone) => {
    if (!formIsEmpty()) return; // a call being logged keeps its form
    $("phone").value = phone;
    $("phone").dispatchEvent(new Event("input", { bubbles: true })); // its history loads
  },
});
$("phone").focus();
