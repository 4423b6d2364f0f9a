/* The leaders' dashboard (领导驾驶舱): the headline figures of a period and area, trends, breakdowns,
 * rankings, the demand map and the emerging hotspots (未诉先办); every figure opens the list of
 * tickets behind it, every table exports to Excel.
 *
 * Everything comes from the statistics API: /api/v1/stats/summary, trend, breakdown, tickets
 * (web/api/stats.py) and metrics, heat, hotspots, export.xlsx (web/api/dashboard.py). Charts are
 * ECharts (vendored), the map Leaflet over the project's own grid (no tiles unless configured).
 *
 * Names of places, categories and ticket texts reach the DOM only as text (el / textContent);
 * chart labels are drawn on a canvas, tooltips built as DOM elements. */
import { api, describe, geojson } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { completions } from "./lib/evidence.js";
import { count as num, fmtTime, localDay, percent as pct } from "./lib/format.js";
import { boundsBox, snapBbox } from "./lib/geo.js";
import { BOOT, I18N, now, zh } from "./lib/page.js";
import { actorOf } from "./lib/people.js";
import * as periods from "./lib/periods.js";
import { busy, toast } from "./lib/ui.js";
import { echarts, L } from "./lib/vendor.js";
import { appendCallTiles } from "./dashboard-calls.js";

const STATS = "/api/v1/stats";
const DRILL_PER_PAGE = 20;
const BREAKDOWN_SHOWN = 20; // bars drawn; the export holds every row
const HOTSPOT_EVERY_MS = 60000; // "right now": the list refreshes itself every minute
// The headline tiles, in the order of DOMAIN.md's tables.
const TILES = ["intake", "direct_answer_rate", "on_time_sign_rate", "completion_rate",
  "on_time_completion_rate", "callback_rate", "satisfaction_rate", "resolution_rate",
  "repeat_rate", "return_rate", "extension_rate", "reopen_rate", "overdue_now",
  // DOMAIN.md "More metrics": 智能派单, the emergency alarms of unattended channels, and the
  // grid workers' patrol reports (主动发现量, 自办率).
  "auto_dispatch_rate", "auto_dispatch_accuracy", "alarm_ack_rate", "patrol_reports",
  "self_handled_rate"];
// Lower is better for these: their tiles do not turn green when high.
const LOWER_IS_BETTER = new Set(["repeat_rate", "return_rate", "extension_rate",
  "reopen_rate", "overdue_now"]);
const TREND_SERIES = ["completion_rate", "on_time_completion_rate", "satisfaction_rate",
  "callback_rate"];
const RANK_COLUMNS = ["intake", "completion_rate", "on_time_completion_rate",
  "on_time_sign_rate", "satisfaction_rate", "callback_rate", "return_rate", "overdue_now"];
const DIM_NAMES = { channel: "渠道", type: "诉求类型", category: "事项分类",
  department: "承办部门", street: "街道/乡镇", cell: "网格" };
const NOT_SET = { channel: "未知渠道", type: "未填类型", category: "未分类",
  department: "未派单", street: "无位置", cell: "无位置" };
const PART_NAMES = { numerator: "分子", denominator: "分母" };
const HEAT_COLOURS = ["#f4f6f9", "#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
const CHART_COLOURS = ["#1565c0", "#2e7d32", "#ef8f00", "#6a1b9a", "#c62828", "#00838f"];

const root = document.getElementById("dashboard");
const $ = (id) => document.getElementById(id);
const form = $("filters");
const inputs = {
  period: $("f-period"), from: $("f-from"), to: $("f-to"), street: $("f-street"),
  channel: $("f-channel"), category: $("f-category"),
};

const state = {
  period: "month", from: "", to: "", street: "", channel: "", category: "",
  every: null, // null: chosen from the period's length
  bdBy: "category", bdMetric: "intake",
  rankBy: "department", rankSort: "completion_rate",
};
const ref = {
  metrics: {}, // name -> {label, formula, numerator, denominator}
  order: [], // metric names in the API's order
  parts: {}, // part -> {label, dated_by, unit_label}
  areas: {}, // street and community code -> name
  streets: [], // [{code, name}]
  categories: {}, // code -> name
  departments: {}, // code -> name
  cells: {}, // cell code -> name (from the heat map's answers)
};
let generation = 0; // answers of an older query are dropped

// ------------------------------------------------------------ dates (local, Asia/Shanghai)

const { daysBetween, validDay } = periods;

function today() {
  return localDay(now());
}

/** The chosen period's first and last local day. */
function periodDays() {
  return periods.periodDays(state.period, today(), state.from, state.to);
}

function trendEvery(from, to) {
  return periods.trendEvery(from, to, state.every);
}

// ------------------------------------------------------------ formatting and names

function isRate(metric) {
  const m = ref.metrics[metric];
  return Boolean(m && m.denominator);
}

function label(metric) {
  return (ref.metrics[metric] && ref.metrics[metric].label) || metric;
}

function keyName(dim, key) {
  if (key === null || key === undefined || key === "none") return NOT_SET[dim] || "未设置";
  if (dim === "channel" || dim === "type") return zh(dim, key);
  if (dim === "department") return ref.departments[key] || key;
  if (dim === "category") return ref.categories[key] || key;
  if (dim === "cell") return ref.cells[key] || ref.areas[key] || key;
  return ref.areas[key] || key;
}

/** The value a figure shows: a rate as a percentage, a count as a number. */
function figureValue(fig) {
  if (!fig) return "—";
  return "value" in fig ? num(fig.value) : pct(fig.rate);
}

// ------------------------------------------------------------ the query

/** The period and filters as query parameters (plus `extra`). */
function params(extra) {
  const [from, to] = periodDays();
  const p = new URLSearchParams({ from, to });
  for (const k of ["street", "channel", "category"]) if (state[k]) p.set(k, state[k]);
  for (const [k, v] of Object.entries(extra || {})) {
    if (v !== null && v !== undefined && v !== "") p.set(k, v);
  }
  return p;
}

function url(path, extra) {
  return `${STATS}/${path}?${params(extra)}`;
}

function exportUrl(table, extra) {
  return url("export.xlsx", { table, ...extra });
}

function filtersText(extra, span) {
  const [from, to] = span || periodDays();
  const parts = [from === to ? from : `${from} 至 ${to}`];
  const all = { street: state.street, channel: state.channel, category: state.category,
    ...(extra || {}) };
  for (const [dim, value] of Object.entries(all)) {
    if (value) parts.push(`${DIM_NAMES[dim] || dim}：${keyName(dim, value)}`);
  }
  return parts.join(" · ");
}

/** Keep the query in the address bar, so a view can be bookmarked or sent on. */
function saveToAddress() {
  const p = new URLSearchParams();
  p.set("period", state.period);
  if (state.period === "custom") {
    p.set("from", state.from);
    p.set("to", state.to);
  }
  for (const k of ["street", "channel", "category"]) if (state[k]) p.set(k, state[k]);
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

function readAddress() {
  const p = new URLSearchParams(location.search);
  const period = p.get("period");
  if (period && [...inputs.period.options].some((o) => o.value === period)) {
    state.period = period;
  }
  if (state.period === "custom") {
    state.from = validDay(p.get("from")) ? p.get("from") : today();
    state.to = validDay(p.get("to")) ? p.get("to") : today();
  }
  for (const k of ["street", "channel", "category"]) state[k] = p.get(k) || "";
}

function writeInputs() {
  inputs.period.value = state.period;
  $("f-custom").hidden = state.period !== "custom";
  const [from, to] = periodDays();
  inputs.from.value = from;
  inputs.to.value = to;
  for (const k of ["street", "channel", "category"]) {
    const select = inputs[k];
    if (state[k] && ![...select.options].some((o) => o.value === state[k])) {
      select.appendChild(el("option", { value: state[k] }, keyName(k, state[k])));
    }
    select.value = state[k];
  }
}

function readInputs() {
  state.period = inputs.period.value;
  state.from = inputs.from.value;
  state.to = inputs.to.value;
  for (const k of ["street", "channel", "category"]) state[k] = inputs[k].value;
}

// ------------------------------------------------------------ reference data

async function loadReference() {
  const [defs, areas, cats, depts] = await Promise.all([
    api("GET", `${STATS}/metrics`),
    api("GET", "/api/v1/grid/areas"),
    api("GET", "/api/v1/categories"),
    api("GET", "/api/v1/departments"),
  ]);
  for (const m of defs.items) {
    ref.metrics[m.name] = m;
    ref.order.push(m.name);
  }
  ref.parts = defs.parts;
  for (const a of areas.items) {
    ref.areas[a.code] = a.name;
    if (a.level === "street") ref.streets.push({ code: a.code, name: a.name });
  }
  ref.streets.sort((a, b) => a.name.localeCompare(b.name, "zh-CN"));
  const walk = (nodes, depth) => {
    for (const n of nodes) {
      ref.categories[n.code] = n.name;
      if (depth < 2) {
        inputs.category.appendChild(el("option", { value: n.code },
          (depth ? "　└ " : "") + n.name));
      }
      walk(n.children || [], depth + 1);
    }
  };
  walk(cats.items, 0);
  for (const d of depts.items) ref.departments[d.code] = d.name;
  for (const s of ref.streets) {
    inputs.street.appendChild(el("option", { value: s.code }, s.name));
  }
  for (const code of Object.keys(I18N.channel || {})) {
    inputs.channel.appendChild(el("option", { value: code }, zh("channel", code)));
  }
  const metricSelect = $("bd-metric");
  for (const name of ref.order) {
    if (name === "void") continue;
    metricSelect.appendChild(el("option", { value: name }, label(name)));
  }
  metricSelect.value = state.bdMetric;
}

// ------------------------------------------------------------ tiles

function drillButton(text, metric, part, extra, className) {
  const title = `${label(metric)} · ${PART_NAMES[part]}：查看工单`;
  return el("button", {
    type: "button", class: "figure-link " + (className || ""), title,
    dataset: { metric, part },
    onclick: () => openDrill({ metric, part, extra }),
  }, text);
}

function tone(metric, fig) {
  if (!fig || !("rate" in fig) || fig.rate === null) return "";
  if (LOWER_IS_BETTER.has(metric)) return fig.rate > 0.1 ? "tone-bad" : "";
  if (fig.rate >= 0.9) return "tone-good";
  return fig.rate < 0.7 ? "tone-bad" : "tone-warn";
}

function renderTiles(summary) {
  const tiles = TILES.map((metric) => {
    const fig = summary[metric];
    const def = ref.metrics[metric] || {};
    const channels = metric === "intake"
      ? el("div", { class: "tile-channels", dataset: { testid: "intake-channels" } }) : null;
    const counts = "rate" in fig
      ? el("div", { class: "tile-counts" },
        drillButton(num(fig.numerator), metric, "numerator", null, "n"), " / ",
        drillButton(num(fig.denominator), metric, "denominator", null, "d"))
      : el("div", { class: "tile-counts muted" },
        metric === "intake" ? `另有作废 ${num(summary.void.value)} 件`
          : metric === "overdue_now" ? "此刻，不限统计期" : "");
    return el("div", {
      class: "tile " + (metric === "overdue_now" && fig.value ? "tone-bad" : tone(metric, fig)),
      dataset: { metric, testid: "tile" },
    },
    el("button", {
      type: "button", class: "tile-main", title: def.formula || "",
      dataset: { metric, part: "numerator" },
      onclick: () => openDrill({ metric, part: "numerator" }),
    },
    el("span", { class: "tile-label" }, label(metric)),
    el("span", { class: "tile-value", dataset: { testid: "tile-value" } }, figureValue(fig))),
    counts, channels);
  });
  fill($("tiles"), tiles);
}

// ------------------------------------------------------------ charts

const charts = {};

function chart(id) {
  if (!charts[id]) {
    charts[id] = echarts.init($(id), null, { renderer: "canvas", locale: "ZH" });
  }
  return charts[id];
}

window.addEventListener("resize", () => {
  for (const c of Object.values(charts)) c.resize();
});

/** A tooltip as a DOM node: names are text, never markup. */
function tooltipNode(title, lines) {
  return el("div", { class: "chart-tip" }, el("strong", {}, title),
    lines.map(([marker, name, value]) => el("div", {},
      el("span", { class: "tip-dot", style: `background:${marker}` }), `${name}：${value}`)));
}

let trendPoints = [];

function renderTrend(data, every) {
  trendPoints = data.items;
  const labels = data.items.map((p) => periods.bucketLabel(p, every));
  const series = [{
    name: label("intake"), type: "bar", yAxisIndex: 0, barMaxWidth: 28,
    data: data.items.map((p) => p.intake.value), metric: "intake",
  }];
  for (const metric of TREND_SERIES) {
    series.push({
      name: label(metric), type: "line", yAxisIndex: 1, smooth: false, showSymbol: true,
      symbolSize: 6, connectNulls: false, metric,
      data: data.items.map((p) => (p[metric].rate === null ? null
        : Math.round(p[metric].rate * 10000) / 100)),
    });
  }
  const c = chart("trend-chart");
  c.setOption({
    color: CHART_COLOURS,
    animation: false,
    grid: { left: 48, right: 52, top: 40, bottom: 36 },
    legend: { top: 0, type: "scroll" },
    tooltip: {
      trigger: "axis",
      formatter: (items) => {
        const point = trendPoints[items[0].dataIndex];
        return tooltipNode(`${point.from} 至 ${point.to}`, items.map((it) => {
          const metric = series[it.seriesIndex].metric;
          const fig = point[metric];
          const value = "value" in fig ? num(fig.value)
            : `${pct(fig.rate)}（${num(fig.numerator)} / ${num(fig.denominator)}）`;
          return [it.color, it.seriesName, value];
        }));
      },
    },
    xAxis: { type: "category", data: labels },
    yAxis: [
      { type: "value", name: "件", minInterval: 1 },
      { type: "value", name: "%", min: 0, max: 100, splitLine: { show: false } },
    ],
    series,
  }, true);
  c.off("click");
  c.on("click", (e) => {
    const point = trendPoints[e.dataIndex];
    const metric = series[e.seriesIndex].metric;
    if (!point) return;
    openDrill({ metric, part: "numerator", from: point.from, to: point.to });
  });
  root.dataset.trendPoints = String(data.items.length);
  for (const b of $("trend-every").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.every === every));
    const [from, to] = periodDays();
    b.disabled = b.dataset.every === "day" && daysBetween(from, to) + 1 > periods.MAX_TREND_POINTS;
  }
  $("export-trend").href = exportUrl("trend", { every });
}

let breakdownRows = [];

function renderBreakdown(data) {
  const metric = state.bdMetric;
  const by = state.bdBy;
  breakdownRows = data.items.slice(0, BREAKDOWN_SHOWN).filter((r) => {
    const fig = r[metric];
    return "value" in fig ? fig.value > 0 : fig.denominator > 0;
  });
  const rows = breakdownRows.slice().reverse(); // the highest at the top of the bar chart
  const rate = isRate(metric);
  const c = chart("breakdown-chart");
  c.setOption({
    color: [CHART_COLOURS[0]],
    animation: false,
    grid: { left: 8, right: 56, top: 16, bottom: 24, containLabel: true },
    tooltip: {
      trigger: "item",
      formatter: (it) => {
        const row = rows[it.dataIndex];
        const fig = row[metric];
        const value = "value" in fig ? num(fig.value)
          : `${pct(fig.rate)}（${num(fig.numerator)} / ${num(fig.denominator)}）`;
        return tooltipNode(keyName(by, row.key), [[it.color, label(metric), value]]);
      },
    },
    xAxis: rate ? { type: "value", max: 100, name: "%" } : { type: "value", minInterval: 1 },
    yAxis: {
      type: "category",
      data: rows.map((r) => keyName(by, r.key)),
      axisLabel: { width: 140, overflow: "truncate" },
    },
    series: [{
      type: "bar", name: label(metric), barMaxWidth: 22,
      label: { show: true, position: "right",
        formatter: (it) => (rate ? it.value.toFixed(2) + "%" : num(it.value)) },
      data: rows.map((r) => (rate ? Math.round(r[metric].rate * 10000) / 100
        : r[metric].value)),
    }],
  }, true);
  c.off("click");
  c.on("click", (e) => {
    const row = rows[e.dataIndex];
    if (row) openDrill({ metric, part: "numerator", extra: { [by]: row.key || "none" } });
  });
  root.dataset.breakdownBars = String(rows.length);
  $("export-breakdown").href = exportUrl("breakdown", { by, sort: metric });
}

// ------------------------------------------------------------ ranking table

function renderRankHead() {
  const cells = [el("th", { scope: "col" }, "排名"),
    el("th", { scope: "col" }, DIM_NAMES[state.rankBy])];
  for (const metric of RANK_COLUMNS) {
    const active = metric === state.rankSort;
    cells.push(el("th", { scope: "col", "aria-sort": active ? "descending" : "none" },
      el("button", {
        type: "button", class: "sort" + (active ? " active" : ""),
        title: `按${label(metric)}由高到低排序`, dataset: { sort: metric },
        onclick: () => {
          state.rankSort = metric;
          loadRanking().catch((e) => toast(describe(e), "error"));
        },
      }, label(metric), active ? " ▼" : "")));
  }
  fill($("rank-head"), cells);
}

function renderRanking(data) {
  renderRankHead();
  const by = state.rankBy;
  const min = data.min_volume || 5;
  const rows = [];
  let group;
  for (const row of data.items) {
    if (by === "department" && row.group !== group) {
      group = row.group;
      rows.push(el("tr", { class: "rank-group" }, el("th", {
        scope: "rowgroup", colspan: RANK_COLUMNS.length + 2,
      }, RANK_GROUP_NAMES[group || ""] || "其他")));
    }
    rows.push(rankRow(row, by, min));
  }
  fill($("rank-rows"), rows.length ? rows
    : el("tr", {}, el("td", { colspan: RANK_COLUMNS.length + 2, class: "muted" }, "暂无数据")));
  for (const b of $("rank-by").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.by === by));
  }
  $("export-rank").href = exportUrl("breakdown", { by, sort: state.rankSort });
}

/** The ranks' groups (bureaus and streets ranked apart; 未派单 is not a department). */
const RANK_GROUP_NAMES = { functional: "职能部门", territorial: "属地街镇", "": "未派单（不参与排名）" };

/** Why a row has no rank: no department or place, or too few to compare. */
function unranked(row, min) {
  return row.key ? `不足 ${min} 件，只列出、不排名` : "不是部门或地点，不参与排名";
}

function rankRow(row, by, min) {
  return el("tr", { dataset: { key: row.key || "none" }, class: row.rank ? "" : "not-ranked" },
    el("td", { class: "rank-no", title: row.rank ? "" : unranked(row, min) },
      row.rank ? String(row.rank) : "—"),
    el("th", { scope: "row" }, keyName(by, row.key)),
    RANK_COLUMNS.map((metric) => {
      const fig = row[metric];
      const extra = { [by]: row.key || "none" };
      if ("value" in fig) {
        return el("td", { class: "fig" },
          fig.value ? drillButton(num(fig.value), metric, "numerator", extra) : "0");
      }
      return el("td", { class: "fig " + tone(metric, fig) },
        fig.denominator ? drillButton(pct(fig.rate), metric, "numerator", extra) : "—",
        el("div", { class: "muted small" }, `${num(fig.numerator)} / ${num(fig.denominator)}`));
    }));
}

async function loadRanking() {
  const gen = generation;
  const data = await api("GET", url("breakdown", { by: state.rankBy, sort: state.rankSort }));
  if (gen === generation) renderRanking(data);
}

/** Intake by channel, under the intake tile: each count opens its tickets. */
async function loadChannels() {
  const gen = generation;
  const data = await api("GET", url("breakdown", { by: "channel" }));
  const node = document.querySelector(".tile[data-metric=intake] .tile-channels");
  if (gen !== generation || !node) return;
  const items = data.items.filter((r) => r.intake.value > 0);
  fill(node, items.map((r) => el("span", { class: "channel", dataset: { channel: r.key } },
    `${keyName("channel", r.key)} `,
    drillButton(num(r.intake.value), "intake", "numerator", { channel: r.key }))));
}

async function loadBreakdown() {
  const gen = generation;
  const data = await api("GET", url("breakdown", { by: state.bdBy, sort: state.bdMetric }));
  if (gen === generation) renderBreakdown(data);
}

async function loadTrend() {
  const gen = generation;
  const [from, to] = periodDays();
  const every = trendEvery(from, to);
  const data = await api("GET", url("trend", { every }));
  if (gen === generation) renderTrend(data, every);
}

// ------------------------------------------------------------ the map

const heat = { map: null, layer: null, spots: null, tiles: null, counts: {}, level: "",
  breaks: [], ready: false, lastUrl: "", fetching: null, timer: null };

function heatClass(count) {
  if (!count) return 0;
  const i = heat.breaks.findIndex((b) => count <= b);
  return i < 0 ? heat.breaks.length : i + 1;
}

function computeBreaks(level) {
  const counts = heat.counts[level] || {};
  const max = Math.max(0, ...Object.values(counts));
  const breaks = [];
  for (let k = 1; k <= 5; k++) {
    const b = Math.ceil((max * k) / 5);
    if (b > 0 && !breaks.includes(b)) breaks.push(b);
  }
  heat.breaks = breaks;
}

function areaStyle(feature) {
  const level = feature.properties.level;
  const count = (heat.counts[level] || {})[feature.properties.code] || 0;
  const c = heatClass(count);
  return { color: "#7986cb", weight: level === "street" ? 1.6 : 0.6,
    fillColor: HEAT_COLOURS[Math.min(c, HEAT_COLOURS.length - 1)],
    fillOpacity: c ? 0.75 : 0.2 };
}

function renderLegend() {
  const items = [el("span", { class: "legend-item" },
    el("i", { style: `background:${HEAT_COLOURS[0]}` }), "0")];
  let low = 1;
  heat.breaks.forEach((b, i) => {
    items.push(el("span", { class: "legend-item" },
      el("i", { style: `background:${HEAT_COLOURS[Math.min(i + 1, 5)]}` }),
      low === b ? String(b) : `${low}–${b}`));
    low = b + 1;
  });
  const levelName = { street: "按街道/乡镇", community: "按社区/村", cell: "按网格" }[heat.level];
  const title = `受理量${levelName ? "（" + levelName + "）" : ""}：`;
  fill($("heat-legend"), el("span", { class: "muted" }, title), items,
    el("span", { class: "legend-item" }, el("i", { class: "spot" }), "新发热点"));
}

function restyle() {
  if (!heat.layer) return;
  computeBreaks(heat.level);
  heat.layer.setStyle(areaStyle);
  renderLegend();
}

async function loadAreas() {
  if (!heat.ready) return;
  const zoom = heat.map.getZoom();
  const bbox = snapBbox(boundsBox(heat.map.getBounds().pad(0.1)));
  const target = `/api/v1/grid/cells.geojson?bbox=${bbox}&zoom=${zoom}`;
  if (target === heat.lastUrl) return;
  if (heat.fetching) heat.fetching.abort();
  const controller = new AbortController();
  heat.fetching = controller;
  try {
    const data = await geojson(target, { signal: controller.signal });
    if (controller.signal.aborted) return;
    heat.lastUrl = target;
    heat.level = (data.properties && data.properties.level) || "cell";
    for (const f of data.features || []) {
      if (f.properties.level === "cell") ref.cells[f.properties.code] = f.properties.name;
    }
    heat.layer.clearLayers();
    computeBreaks(heat.level);
    heat.layer.addData(data);
    heat.layer.bringToBack();
    renderLegend();
    $("heat-map").dataset.level = heat.level;
    $("heat-map").dataset.features = String((data.features || []).length);
  } catch (e) {
    if (e.name !== "AbortError") toast("地图底图加载失败：" + describe(e), "error");
  } finally {
    if (heat.fetching === controller) heat.fetching = null;
  }
}

function areaTooltip(feature) {
  const level = feature.properties.level;
  const count = (heat.counts[level] || {})[feature.properties.code] || 0;
  const name = feature.properties.name || feature.properties.code;
  return el("span", {}, `${name}：受理 ${num(count)} 件`);
}

function initMap() {
  const node = $("heat-map");
  const map = L.map(node, { zoomControl: true, minZoom: 6, maxZoom: 18 });
  map.attributionControl.setPrefix(false);
  map.setView([35.2, 114.7], 10);
  heat.map = map;
  heat.layer = L.geoJSON(null, {
    style: areaStyle,
    onEachFeature: (feature, layer) => {
      layer.bindTooltip(() => areaTooltip(feature), { sticky: true, direction: "top" });
      layer.on("click", () => {
        const { level, code } = feature.properties;
        if (level === "street" || level === "cell") {
          openDrill({ metric: "intake", part: "numerator", extra: { [level]: code } });
        } else {
          map.fitBounds(layer.getBounds());
        }
      });
    },
  }).addTo(map);
  heat.spots = L.layerGroup().addTo(map);
  const tiles = BOOT.map_tile_url;
  if (tiles) heat.tiles = L.tileLayer(tiles, { maxZoom: 19, attribution: "" }).addTo(map);
  map.on("moveend", () => {
    clearTimeout(heat.timer);
    heat.timer = setTimeout(loadAreas, 200);
  });
  return api("GET", "/api/v1/grid/versions").then((data) => {
    const active = (data.items || []).find((v) => v.active);
    if (!active) {
      node.dataset.level = "none";
      return;
    }
    heat.ready = true;
    if (active.bbox && active.bbox.length === 4) {
      const [w, s, e, n] = active.bbox;
      map.fitBounds([[s, w], [n, e]]);
    }
    return loadAreas();
  });
}

async function loadHeat() {
  const gen = generation;
  const data = await api("GET", url("heat"));
  if (gen !== generation) return;
  const counts = { cell: {}, community: {}, street: {} };
  for (const c of data.cells) {
    counts.cell[c.code] = c.count;
    ref.cells[c.code] = c.name;
  }
  for (const c of data.communities) counts.community[c.code] = c.count;
  for (const s of data.streets) counts.street[s.code] = s.count;
  heat.counts = counts;
  $("heat-note").textContent = `共 ${num(data.total)} 件` +
    (data.unplaced ? `（其中 ${num(data.unplaced)} 件无位置）` : "") + "；点击区域查看工单";
  restyle();
}

/** The heat layer: each snapped demand point a soft red circle (about 150 m), its opacity
 * graded by its count against the busiest point's (square root: a few large counts do not
 * hide the rest); overlapping circles add up where demands crowd. Drawn on a canvas. */
async function loadHeatPoints() {
  const gen = generation;
  const data = await api("GET", url("heat-points"));
  if (gen !== generation || !heat.map) return;
  if (!heat.points) {
    heat.points = L.layerGroup().addTo(heat.map);
    heat.renderer = L.canvas({ padding: 0.2 });
  }
  heat.points.clearLayers();
  const max = data.points.reduce((m, p) => Math.max(m, p[2]), 1);
  for (const [lon, lat, n] of data.points) {
    const weight = Math.sqrt(n / max);
    L.circle([lat, lon], {
      renderer: heat.renderer, radius: 150, stroke: false, interactive: false,
      fillColor: weight > 0.6 ? "#b71c1c" : weight > 0.3 ? "#e64a19" : "#ffa000",
      fillOpacity: 0.12 + 0.5 * weight,
    }).addTo(heat.points);
  }
  $("heat-map").dataset.points = String(data.points.length);
  $("heat-points-note").textContent = data.points.length
    ? `热力点：${num(data.total)} 件有位置的诉求` + (data.capped ? "（只取最新的部分）" : "")
    : "";
}

// ------------------------------------------------------------ hotspots

function timeOnly(iso) {
  return fmtTime(iso).slice(-5);
}

function renderHotspots(data) {
  const rules = data.rules;
  $("hotspot-rule").textContent = `同类诉求 ${rules.window_minutes / 60} 小时内在 ` +
    `${rules.radius_m} 米范围内达 ${rules.min_count} 件即列为热点（截至 ${fmtTime(data.as_of)}）`;
  heat.spots && heat.spots.clearLayers();
  const items = data.items.map((spot, i) => {
    const tickets = el("ol", { class: "spot-tickets" }, spot.tickets.map((t) => el("li", {},
      el("button", { type: "button", class: "figure-link", onclick: () => openTicket(t.number) },
        t.number),
      " ", el("span", { class: "badge st-" + t.status }, zh("status", t.status)),
      " ", el("span", { class: "muted small" },
        `${timeOnly(t.created_at)} · ${Math.round(t.distance_m)} 米`))));
    const item = el("li", { class: "hotspot", dataset: { index: String(i), testid: "hotspot" } },
      el("div", { class: "spot-head" },
        el("span", { class: "spot-count" }, `${spot.count} 件`),
        el("strong", { class: "spot-category" }, spot.category_name),
        el("button", { type: "button", class: "small-button", title: "在地图上定位",
          onclick: () => focusSpot(spot) }, "定位")),
      el("div", { class: "spot-place" }, spot.place),
      el("div", { class: "muted small" },
        `${timeOnly(spot.first_at)}–${timeOnly(spot.last_at)}` +
        ` · 半径 ${Math.round(spot.radius_m)} 米` +
        ` · 仍在办理 ${spot.open} 件`),
      el("details", {}, el("summary", {}, "查看工单"), tickets));
    if (heat.spots) {
      const circle = L.circle([spot.lat, spot.lon], {
        radius: Math.max(spot.radius_m, 80), color: "#c62828", weight: 2, fillOpacity: 0.15,
      });
      circle.bindTooltip(el("span", {},
        `${spot.category_name} · ${spot.count} 件 · ${spot.place}`));
      circle.on("click", () => {
        item.scrollIntoView({ block: "nearest" });
        item.querySelector("details").open = true;
      });
      heat.spots.addLayer(circle);
    }
    return item;
  });
  fill($("hotspots"), items.length ? items
    : el("li", { class: "muted empty" }, "当前没有新发热点"));
  root.dataset.hotspots = String(items.length);
}

function focusSpot(spot) {
  if (!heat.map) return;
  heat.map.setView([spot.lat, spot.lon], Math.max(heat.map.getZoom(), 15));
}

async function loadHotspots() {
  const q = new URLSearchParams();
  if (state.street) q.set("street", state.street);
  if (state.category) q.set("category", state.category);
  const data = await api("GET", `${STATS}/hotspots${q.toString() ? "?" + q : ""}`);
  renderHotspots(data);
}

// ------------------------------------------------------------ periodic reports

async function loadReports() {
  const role = BOOT.me && BOOT.me.role;
  if (!["leader", "admin", "supervisor"].includes(role)) return; // the route's readers
  const data = await api("GET", "/api/v1/admin/reports");
  $("reports-panel").hidden = false;
  fill($("reports"), data.items.length ? data.items.map((r) => el("li", {},
    el("a", { href: r.url, download: "" }, `${r.name} ${r.label}`),
    el("span", { class: "muted small" },
      ` ${r.start} 至 ${r.end} · 生成于 ${fmtTime(r.generated_at)}`)))
    : el("li", { class: "muted" }, "暂无已生成的定期报表"));
}

// ------------------------------------------------------------ drill-down

const drill = { query: null, page: 1, total: 0, opener: null };
let ticketOpener = null;

/** Give the focus back to what opened a drawer (keyboard users keep their place). */
function restoreFocus(node) {
  if (node && node.isConnected) node.focus();
}

function drillParams(q, page) {
  const p = params({ ...(q.extra || {}), metric: q.metric, part: q.part });
  if (q.from) p.set("from", q.from);
  if (q.to) p.set("to", q.to);
  if (page) {
    p.set("page", String(page));
    p.set("per_page", String(DRILL_PER_PAGE));
  }
  return p;
}

function openDrill(q) {
  if ($("drill").hidden) drill.opener = document.activeElement;
  drill.query = q;
  drill.page = 1;
  const panel = $("drill");
  panel.hidden = false;
  const m = ref.metrics[q.metric] || {};
  const partName = q.part === "numerator" ? m.numerator : m.denominator;
  const part = ref.parts[partName] || {};
  $("drill-title").textContent =
    `${label(q.metric)} · ${PART_NAMES[q.part]}：${part.label || partName}`;
  $("drill-meta").textContent = filtersText(q.extra, q.from ? [q.from, q.to] : null) +
    (part.dated_by ? ` · 按${part.dated_by}计入` : "");
  const exportParams = drillParams(q, 0);
  exportParams.set("table", "tickets");
  $("export-drill").href = `${STATS}/export.xlsx?${exportParams}`;
  loadDrill().then(() => $("drill-close").focus());
}

async function loadDrill() {
  const q = drill.query;
  const body = $("drill-rows");
  fill(body, el("tr", {}, el("td", { colspan: 6, class: "muted" }, zh("ui", "loading"))));
  try {
    const data = await api("GET", `${STATS}/tickets?${drillParams(q, drill.page)}`);
    if (q !== drill.query) return;
    drill.total = data.total;
    fill(body, data.items.length ? data.items.map((it) => el("tr", {
      dataset: { number: it.number } },
    el("td", {}, el("button", { type: "button", class: "figure-link num",
      onclick: () => openTicket(it.number) }, it.number)),
    el("td", {}, el("span", { class: "badge st-" + it.status }, zh("status", it.status))),
    el("td", {}, it.day || "—"),
    el("td", {}, keyName("category", it.category)),
    el("td", {}, keyName("department", it.department)),
    el("td", {}, keyName("street", it.street))))
      : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "没有工单")));
    const pages = Math.max(1, Math.ceil(data.total / DRILL_PER_PAGE));
    $("drill-count").textContent = `共 ${num(data.total)} 条 · 第 ${drill.page} / ${pages} 页`;
    $("drill-prev").disabled = drill.page <= 1;
    $("drill-next").disabled = drill.page >= pages;
    $("drill").dataset.total = String(data.total);
  } catch (e) {
    fill(body, el("tr", {}, el("td", { colspan: 6, class: "error" }, describe(e))));
  }
}

function closeDrill() {
  $("drill").hidden = true;
  drill.query = null;
  restoreFocus(drill.opener);
}

// ------------------------------------------------------------ read-only ticket view

function field(name, ...value) {
  return [el("dt", {}, name), el("dd", {}, ...value)];
}

/** The completions (办结情况): photos, where they were reported from against the ticket's
 * place, how long the handling took (lib/evidence.js); nothing when none yet. */
function completionSection(t) {
  const done = completions(t);
  if (!done.length) return null;
  return el("section", { class: "evidence", "data-testid": "completion-evidence" },
    el("h3", {}, "办结情况"),
    done.map((c) => el("div", { class: "completion", "data-testid": "completion" },
      el("div", { class: "small" },
        el("strong", {}, c.departmentName), " · ", fmtTime(c.at, true),
        c.took ? ` · 用时 ${c.took}` : "",
        c.onTime === false ? el("span", { class: "badge late" }, "超时办结") : null),
      el("div", { class: "small" + (c.far ? " far" : ""), "data-testid": "completion-place",
        title: c.place ? `上报位置 ${c.place.lon.toFixed(5)}, ${c.place.lat.toFixed(5)}` : "" },
      c.placeText, c.far ? "（偏离较远，请核实）" : ""),
      c.result ? el("p", { class: "small result" }, c.result) : null,
      c.photos.length ? el("div", { class: "photos" }, c.photos.map((id, i) => el("a", {
        href: `/api/v1/attachments/${encodeURIComponent(id)}`, target: "_blank",
        rel: "noopener", title: `办结照片 ${i + 1}（点击查看原图）`,
      }, el("img", {
        src: `/api/v1/attachments/${encodeURIComponent(id)}`, alt: `办结照片 ${i + 1}`,
        loading: "lazy", "data-testid": "completion-photo",
      })))) : el("p", { class: "muted small" }, "未上传照片"))));
}

async function openTicket(number) {
  const panel = $("ticket");
  if (panel.hidden) ticketOpener = document.activeElement;
  panel.hidden = false;
  $("ticket-title").textContent = number;
  const body = $("ticket-body");
  fill(body, el("p", { class: "muted" }, zh("ui", "loading")));
  try {
    const t = await api("GET", `/api/v1/tickets/${encodeURIComponent(number)}?masked=1`);
    const loc = t.location || {};
    const place = [loc.street, loc.community, loc.cell].filter(Boolean)
      .map((c) => ref.areas[c] || ref.cells[c] || c).join(" · ");
    const citizen = t.citizen || {};
    const who = citizen.hidden ? "（保密）" : citizen.anonymous ? "（匿名）"
      : [citizen.name, citizen.phone].filter(Boolean).join(" ");  // masked by the server
    fill(body,
      el("div", { class: "ticket-badges" },
        el("span", { class: "badge st-" + t.status }, zh("status", t.status)),
        t.urgency !== "normal" ? el("span", { class: "badge " + t.urgency },
          zh("urgency", t.urgency)) : null,
        t.supervised ? el("span", { class: "badge supervised" }, "督办") : null),
      el("p", { class: "ticket-text" }, t.text || ""),
      el("dl", { class: "facts" },
        field("受理时间", fmtTime(t.created_at, true)),
        field("渠道", zh("channel", t.channel)),
        field("类型", zh("type", t.type)),
        field("事项分类", keyName("category", t.category)),
        field("诉求人", who || "—"),
        field("地址", t.address || "—"),
        field("位置", place || "—"),
        t.parent ? field("并入主单", t.parent) : null,
        t.callback && t.callback.satisfaction ? field("回访",
          `${zh("satisfaction", t.callback.satisfaction)} · ` +
          zh("resolved", t.callback.resolved))
          : null),
      el("h3", {}, "派单"),
      (t.assignments || []).length ? el("table", { class: "list small" },
        el("thead", {}, el("tr", {}, ["部门", "主/协办", "状态", "签收时限", "办结时限"].map(
          (h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, t.assignments.map((a) => el("tr", {},
          el("td", {}, a.department_name || a.department),
          el("td", {}, zh("assignment_role", a.role)),
          el("td", {}, zh("assignment_status", a.status)),
          el("td", {}, fmtTime(a.sign_deadline)),
          el("td", {}, fmtTime(a.complete_deadline))))))
        : el("p", { class: "muted" }, "尚未派单"),
      completionSection(t),
      el("h3", {}, "处理过程"),
      el("ol", { class: "timeline" }, (t.events || []).map((e) => el("li", {},
        el("span", { class: "muted small" }, fmtTime(e.at)), " ",
        el("strong", {}, zh("action", e.action)), " ",
        el("span", { class: "muted small", title: actorOf(e).title || null,
          "data-testid": "event-actor" }, actorOf(e).text),
        e.to && e.to !== e.from
          ? el("span", { class: "small" }, ` → ${zh("status", e.to)}`) : null,
        e.reason ? el("div", { class: "small" }, e.reason) : null))));
    panel.dataset.number = number;
    $("ticket-close").focus();
  } catch (e) {
    fill(body, el("p", { class: "error" }, describe(e)));
  }
}

function closeTicket() {
  $("ticket").hidden = true;
  restoreFocus(ticketOpener);
}

// ------------------------------------------------------------ refresh

async function refresh() {
  const [from, to] = periodDays();
  if (!validDay(from) || !validDay(to) || from > to) {
    toast("请选择有效的起止日期（起不晚于止）", "error");
    return;
  }
  generation += 1;
  const gen = generation;
  saveToAddress();
  root.dataset.loading = "true";
  const length = from === to ? "当日" : `${daysBetween(from, to) + 1} 天`;
  $("period-note").textContent = `统计期间：${filtersText()}（${length}）`;
  $("export-summary").href = exportUrl("summary");
  // The summary first: its request brings the latest changes into the rollups, so the
  // requests after it (in parallel) all read the same figures.
  let failed = [];
  try {
    const data = await api("GET", url("summary"));
    if (gen !== generation) return;
    renderTiles(data);
    await appendCallTiles($("tiles"), from, to); // 15秒接通率, 漏接回拨率 (from the calls)
    root.dataset.asOf = data.as_of;
    if (data.fresh_at) {  // the rollups are refreshed in batches: how current they are
      $("period-note").textContent += `；截至 ${fmtTime(data.fresh_at, true).slice(-8)}`;
    }
    if (data.pending) {
      $("period-note").textContent += `；尚有 ${data.pending} 项最新变更正在计入`;
    }
  } catch (e) {
    failed.push({ reason: e });
  }
  const jobs = [loadChannels(), loadTrend(), loadBreakdown(), loadRanking(), loadHeat(),
    loadHeatPoints(), loadHotspots()];
  const results = await Promise.allSettled(jobs);
  failed = failed.concat(results.filter((r) => r.status === "rejected"));
  if (failed.length) toast(describe(failed[0].reason), "error");
  if (gen === generation) {
    root.dataset.loading = "false";
    root.dataset.ready = "true";
  }
}

// ------------------------------------------------------------ wiring

function wire() {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    readInputs();
    refresh();
  });
  inputs.period.addEventListener("change", () => {
    readInputs();
    $("f-custom").hidden = state.period !== "custom";
    if (state.period !== "custom") {
      state.every = null;
      writeInputs();
      refresh();
    }
  });
  for (const k of ["street", "channel", "category"]) {
    inputs[k].addEventListener("change", () => {
      readInputs();
      refresh();
    });
  }
  $("print").addEventListener("click", () => window.print());
  $("trend-every").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-every]");
    if (!b || b.disabled) return;
    state.every = b.dataset.every;
    loadTrend().catch((err) => toast(describe(err), "error"));
  });
  $("bd-by").addEventListener("change", (e) => {
    state.bdBy = e.target.value;
    loadBreakdown().catch((err) => toast(describe(err), "error"));
  });
  $("bd-metric").addEventListener("change", (e) => {
    state.bdMetric = e.target.value;
    loadBreakdown().catch((err) => toast(describe(err), "error"));
  });
  $("rank-by").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-by]");
    if (!b) return;
    state.rankBy = b.dataset.by;
    loadRanking().catch((err) => toast(describe(err), "error"));
  });
  $("drill-close").addEventListener("click", closeDrill);
  $("ticket-close").addEventListener("click", closeTicket);
  $("drill-prev").addEventListener("click", () => {
    if (drill.page > 1) {
      drill.page -= 1;
      loadDrill();
    }
  });
  $("drill-next").addEventListener("click", () => {
    drill.page += 1;
    loadDrill();
  });
  $("hotspot-refresh").addEventListener("click", (e) => {
    busy(e.currentTarget, loadHotspots).catch(() => {});
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!$("ticket").hidden) closeTicket();
    else if (!$("drill").hidden) closeDrill();
  });
  setInterval(() => {
    if (!document.hidden) loadHotspots().catch(() => {});
  }, HOTSPOT_EVERY_MS);
}

async function start() {
  readAddress();
  wire();
  try {
    await loadReference();
  } catch (e) {
    toast("基础数据加载失败：" + describe(e), "error");
    return;
  }
  writeInputs();
  renderRankHead();
  const map = initMap().catch((e) => toast("地图加载失败：" + describe(e), "error"));
  loadReports().catch((e) => toast("定期报表加载失败：" + describe(e), "error"));
  await refresh();
  await map;
}

start();
