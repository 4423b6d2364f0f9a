/* /admin/grid (网格): the grid versions, one version's import report and map preview (the cells'
 * own outlines on a blank background: no tiles, nothing fetched but this site's API), a new
 * grid file uploaded without activating it, and, before activating a version, what would
 * change against the active one (cells added / removed / renamed / moved / reshaped, open
 * tickets, duties and catalogue rules left in areas that disappear).
 *
 * Names reach the page only as DOM text (el), never as HTML. */
import { ApiError, api, describe, geojson } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime, count } from "./lib/format.js";
import { boundsBox, snapBbox } from "./lib/geo.js";
import { csrfToken, zh } from "./lib/page.js";
import { L } from "./lib/vendor.js";

const VERSIONS = "/api/v1/grid/versions";
const CELLS = "/api/v1/grid/cells.geojson";
const IMPORTS = "/api/v1/admin/grid/imports";
const root = document.getElementById("admin-grid");
const versionRows = document.querySelector("#versions tbody");
const detail = document.getElementById("detail");
const diffBox = document.getElementById("diff");
const activateBox = document.getElementById("activate-box");
const diffError = document.getElementById("diff-error");
const LEVEL_STYLE = {
  district: { color: "#3949ab", weight: 2, fillOpacity: 0 },
  street: { color: "#3949ab", weight: 2, fillColor: "#c5cae9", fillOpacity: 0.2 },
  community: { color: "#5c6bc0", weight: 1.2, fillColor: "#e8eaf6", fillOpacity: 0.2 },
  cell: { color: "#7986cb", weight: 0.8, fillColor: "#ffffff", fillOpacity: 0.5 },
};
const CHANGE_FILL = { added: "#66bb6a", reshaped: "#ffa726", renamed: "#42a5f5", moved: "#42a5f5" };
const LEVELS = { street: "街道", community: "社区", cell: "网格", district: "区县" };

let versions = [];
let shown = null; // the version whose detail is open
let changes = new Map(); // cell code -> added | reshaped | renamed | moved (of the open diff)
let map = null;
let areas = null;
let gaps = null;
let lastUrl = "";
let fetching = null;

// ---------------------------------------------------------------- versions

function versionRow(v) {
  const problems = v.overlap_count === null || v.overlap_count === undefined
    ? "—" : `${count(v.overlap_count)} / ${count(v.gap_count)}`;
  return el("tr", { dataset: { version: String(v.id) } },
    el("td", {}, `第 ${v.id} 版`),
    el("td", {}, v.source),
    el("td", {}, fmtTime(v.imported_at, true)),
    el("td", {}, v.imported_by || "—"),
    el("td", {}, count(v.cell_count)),
    el("td", {}, problems),
    el("td", {}, v.active ? el("strong", { "data-testid": "active-badge" }, "启用中") : "未启用"),
    el("td", {}, el("button", {
      type: "button", "data-testid": `open-${v.id}`, onclick: () => open(v.id),
    }, "查看")));
}

async function loadVersions() {
  const data = await api("GET", VERSIONS);
  versions = data.items;
  fill(versionRows, versions.map(versionRow));
  document.getElementById("no-versions").hidden = versions.length > 0;
  return versions;
}

// ---------------------------------------------------------------- one version

function table(headings, rows) {
  return el("table", { class: "list" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
}

function renderReport(v) {
  const r = v.report || {};
  const counts = r.counts || {};
  const parts = [
    el("p", {}, `文件：${v.source}（坐标系 ${v.source_crs}），导入于 ${fmtTime(v.imported_at, true)}`
      + (v.imported_by ? `，导入人 ${v.imported_by}` : "")),
    el("ul", { class: "grid-counts" }, Object.entries(counts).map(([level, n]) =>
      el("li", {}, `${LEVELS[level] || level}：`, el("strong", {}, count(n))))),
  ];
  const overlaps = r.overlaps || [];
  parts.push(el("h3", {}, `重叠：${count(r.overlap_count || 0)} 处`));
  if (overlaps.length) {
    parts.push(el("div", { class: "grid-scroll" }, table(["网格", "与之重叠", "重叠面积（平方米）"],
      overlaps.map((o) => [o.a_name || o.a, o.b_name || o.b, count(o.area_m2)]))));
  }
  const gapList = r.gaps || [];
  parts.push(el("h3", {}, `缺口：${count(r.gap_count || 0)} 处，共 ${count(Math.round(r.gap_area_m2 || 0))} 平方米`));
  if (gapList.length) {
    parts.push(el("div", { class: "grid-scroll" }, table(["位置（经度, 纬度）", "面积（平方米）"],
      gapList.map((g) => [`${g.lon.toFixed(5)}, ${g.lat.toFixed(5)}`, count(g.area_m2)]))));
  }
  const repaired = r.repaired || [];
  if (repaired.length) {
    parts.push(el("h3", {}, `已修复的图形：${repaired.length} 个`));
    parts.push(el("div", { class: "grid-scroll" }, table(["区域", "问题"],
      repaired.map((x) => [x.name || x.code, x.problem]))));
  }
  for (const w of r.warnings || []) parts.push(el("p", { class: "grid-warning" }, w));
  fill(document.getElementById("report"), parts);
}

async function open(id) {
  const v = await api("GET", `${VERSIONS}/${id}`);
  shown = v;
  changes = new Map();
  detail.hidden = false;
  fill(document.getElementById("detail-title"), `第 ${v.id} 版`, v.active ? "（启用中）" : "");
  renderReport(v);
  diffBox.hidden = true;
  activateBox.hidden = true;
  diffError.hidden = true;
  document.getElementById("diff-status").textContent = "";
  document.getElementById("activate-status").textContent = "";
  document.getElementById("diff-button").textContent = v.active ? "这是启用中的版本" : "对比启用中的版本";
  document.getElementById("diff-button").disabled = v.active;
  showMap(v);
  detail.dataset.version = String(v.id);
}

// ---------------------------------------------------------------- the map

function styleOf(feature) {
  const base = LEVEL_STYLE[feature.properties.level] || LEVEL_STYLE.cell;
  const change = feature.properties.level === "cell" && changes.get(feature.properties.code);
  return change ? { ...base, fillColor: CHANGE_FILL[change], fillOpacity: 0.7 } : base;
}

function ensureMap() {
  if (map) return;
  map = L.map("preview-map", { minZoom: 7, maxZoom: 18, attributionControl: false });
  areas = L.geoJSON(null, {
    style: styleOf,
    onEachFeature: (f, layer) => {
      layer.bindTooltip(el("span", {}, f.properties.name || f.properties.code), { sticky: true });
    },
  }).addTo(map);
  gaps = L.layerGroup().addTo(map);
  map.on("moveend", loadAreas);
}

async function loadAreas() {
  if (!shown || !map) return;
  const zoom = map.getZoom();
  const bbox = snapBbox(boundsBox(map.getBounds().pad(0.1)));
  const url = `${CELLS}?version=${shown.id}&bbox=${bbox}&zoom=${zoom}`;
  if (url === lastUrl) return;
  lastUrl = url;
  if (fetching) fetching.abort();
  fetching = new AbortController();
  try {
    const data = await geojson(url, { signal: fetching.signal });
    areas.clearLayers();
    areas.addData(data);
    root.dataset.mapLevel = data.properties.level;
  } catch (e) {
    if (e.name !== "AbortError") document.getElementById("diff-status").textContent = describe(e);
  }
}

function showMap(v) {
  ensureMap();
  gaps.clearLayers();
  for (const g of (v.report && v.report.gaps) || []) {
    L.circleMarker([g.lat, g.lon], { radius: 6, color: "#c62828", weight: 2, fillOpacity: 0.4 })
      .bindTooltip(el("span", {}, `缺口 ${count(g.area_m2)} 平方米`)).addTo(gaps);
  }
  lastUrl = "";
  const [w, s, e, n] = v.bbox;
  map.invalidateSize();
  map.fitBounds([[s, w], [n, e]]);
  loadAreas();
}

// ---------------------------------------------------------------- diff and activation

function section(title, n, headings, rows, listed) {
  if (!n) return null;
  const more = n > rows.length ? `（列出前 ${listed} 个）` : "";
  return el("div", {},
    el("h3", {}, `${title}：${count(n)}${more}`),
    el("div", { class: "grid-scroll" }, table(headings, rows)));
}

function renderDiff(d) {
  const c = d.counts;
  const against = d.against ? `第 ${d.against} 版（启用中）` : "（目前没有启用中的版本）";
  const summary = el("p", { "data-testid": "diff-summary" },
    `与${against}相比：新增 ${c.added} 个网格，删除 ${c.removed} 个，改名 ${c.renamed} 个，`
    + `调整归属 ${c.moved} 个，边界变化 ${c.reshaped} 个，未变 ${c.unchanged} 个。`);
  const warnings = [];
  if (c.tickets) warnings.push(`${c.tickets} 张未办结工单所在的网格在新版本中不存在`);
  if (c.duties) warnings.push(`${c.duties} 条值班安排所在的网格将不存在（请先调整值班表）`);
  if (c.rules) warnings.push(`${c.rules} 条派单目录规则所指的区域将不存在`);
  fill(diffBox,
    summary,
    warnings.length ? el("p", { class: "grid-warning", "data-testid": "diff-warnings" },
      "注意：" + warnings.join("；") + "。") : null,
    section("新增的网格", c.added, ["网格", "所属社区"],
      d.added.map((x) => [x.name, x.community_name || ""]), d.listed),
    section("删除的网格", c.removed, ["网格", "所属社区"],
      d.removed.map((x) => [x.name, x.community_name || ""]), d.listed),
    section("改名的网格（编码不变）", c.renamed, ["原名称", "新名称"],
      d.renamed.map((x) => [x.old_name, x.name]), d.listed),
    section("调整归属的网格", c.moved, ["网格", "原社区", "新社区"],
      d.moved.map((x) => [x.name, x.old_community_name || "", x.community_name || ""]), d.listed),
    section("边界变化的网格", c.reshaped, ["网格", "原面积（平方米）", "新面积（平方米）"],
      d.reshaped.map((x) => [x.name, count(x.old_area_m2), count(x.area_m2)]), d.listed),
    section("受影响的未办结工单", c.tickets, ["工单号", "状态", "所在网格", "登记时间"],
      d.tickets.map((t) => [t.number, zh("status", t.status), t.cell_name || "",
        fmtTime(t.created_at, true)]), d.listed),
    section("落空的值班安排", c.duties, ["网格", "网格员", "时间"],
      d.duties.map((x) => [x.cell_name, x.display_name, `${x.starts}–${x.ends}`]), d.listed),
    section("落空的派单目录规则", c.rules, ["规则", "分类", "区域"],
      d.rules.map((x) => [`#${x.id}`, x.category_name, x.area_name]), d.listed));
  diffBox.hidden = false;
  changes = new Map();
  for (const kind of ["moved", "renamed", "reshaped", "added"]) {
    for (const x of d[kind]) changes.set(x.code, kind);
  }
  areas.setStyle(styleOf);
}

async function showDiff() {
  if (!shown) return;
  const status = document.getElementById("diff-status");
  const button = document.getElementById("diff-button");
  status.textContent = "正在对比…";
  diffError.hidden = true;
  button.disabled = true;
  try {
    const d = await api("GET", `/api/v1/admin/grid/versions/${shown.id}/diff`);
    renderDiff(d);
    status.textContent = "";
    activateBox.hidden = false;
    document.getElementById("activate").textContent = `启用第 ${shown.id} 版`;
  } catch (e) {
    status.textContent = "";
    diffError.textContent = describe(e);
    diffError.hidden = false;
  } finally {
    button.disabled = shown.active;
  }
}

async function activate() {
  const status = document.getElementById("activate-status");
  const button = document.getElementById("activate");
  button.disabled = true;
  diffError.hidden = true;
  try {
    const v = await api("POST", `/api/v1/admin/grid/versions/${shown.id}/activate`);
    status.textContent = `第 ${v.id} 版已启用。`;
    await loadVersions();
    shown = { ...shown, active: true };
    fill(document.getElementById("detail-title"), `第 ${v.id} 版`, "（启用中）");
    document.getElementById("diff-button").disabled = true;
    activateBox.hidden = true;
    fill(diffBox, el("p", { "data-testid": "activated" }, `第 ${v.id} 版已启用，新工单按此版本定位。`));
  } catch (e) {
    diffError.textContent = describe(e);
    diffError.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- upload

async function upload(event) {
  event.preventDefault();
  const form = event.target;
  const input = document.getElementById("upload-file");
  const errorBox = document.getElementById("upload-error");
  const status = document.getElementById("upload-status");
  const button = document.getElementById("upload");
  errorBox.hidden = true;
  input.removeAttribute("aria-invalid");
  status.textContent = "";
  if (!input.files.length) {
    errorBox.textContent = "请先选择网格文件";
    errorBox.hidden = false;
    input.setAttribute("aria-invalid", "true");
    return;
  }
  const file = input.files[0];
  const params = new URLSearchParams({ filename: file.name, activate: "false" });
  const crs = form.elements.crs.value.trim();
  if (crs) params.set("crs", crs);
  button.disabled = true;
  status.textContent = "正在上传并检查…";
  try {
    const response = await fetch(`${IMPORTS}?${params}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "Content-Type": "application/octet-stream", Accept: "application/json",
        "X-CSRFToken": csrfToken() },
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(response.status, e.code || "error",
        e.message || `HTTP ${response.status}`, e.field);
    }
    status.textContent = `已导入为第 ${data.version_id} 版（未启用）：请查看报告，对比后再启用。`;
    form.reset();
    await loadVersions();
    await open(data.version_id);
  } catch (e) {
    status.textContent = "";
    errorBox.textContent = describe(e);
    errorBox.hidden = false;
    const field = e.field === "crs" ? document.getElementById("upload-crs") : input;
    field.setAttribute("aria-invalid", "true");
  } finally {
    button.disabled = false;
  }
}

document.getElementById("upload-form").addEventListener("submit", upload);
document.getElementById("diff-button").addEventListener("click", showDiff);
document.getElementById("activate").addEventListener("click", activate);

loadVersions().then(async (items) => {
  const active = items.find((v) => v.active) || items[0];
  if (active) await open(active.id);
  root.dataset.ready = "true";
}).catch((e) => {
  document.getElementById("diff-error").textContent = describe(e);
  document.getElementById("diff-error").hidden = false;
});
