/* /admin/classifier: the learned classifier's versions with their held-out figures, training a
 * new one and activating one (through /api/v1/admin/classifier/*). */
import { ApiError, api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime, percent } from "./lib/format.js";
import { busy, toast } from "./lib/ui.js";

const BASE = "/api/v1/admin/classifier";
const STATES = { ready: "可用", training: "训练中", failed: "失败" };
// The issue's targets on the held-out slice: [field, key, target, higher is better].
const TARGETS = {
  "police.recall": [0.97, true], "police.false_alarm_rate": [0.10, false],
  "critical.recall": [0.95, true], "type.accuracy": [0.85, true], "top.accuracy": [0.88, true],
};
const METRICS = [
  ["police", "recall", "涉警召回率"], ["police", "precision", "涉警精确率"],
  ["police", "false_alarm_rate", "涉警误报率"], ["critical", "recall", "危急召回率"],
  ["critical", "precision", "危急精确率"], ["type", "accuracy", "类型准确率"],
  ["top", "accuracy", "一级分类准确率"], ["second", "accuracy", "二级分类准确率"],
];

const root = document.getElementById("classifier-admin");
const tbody = document.querySelector("#versions tbody");
const trainButton = document.getElementById("train");
let selected = null;
let polling = null;

function figureCell(figures, field, key) {
  const value = figures && figures[field] ? figures[field][key] : null;
  const target = TARGETS[`${field}.${key}`];
  const below = value !== null && value !== undefined && target &&
    (target[1] ? value < target[0] : value > target[0]);
  return el("td", {
    class: "num" + (below ? " below" : ""),
    title: below ? `未达目标 ${percent(target[0])}` : null,
  }, value === null || value === undefined ? "—" : percent(value));
}

async function activate(version, button) {
  try {
    await busy(button, () => api("POST", `${BASE}/models/${version}/activate`));
    toast(`已启用 ${version}`, "ok");
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 409 || !/低于/.test(e.message)) return;
    if (!window.confirm(`${e.message}\n\n仍要强制启用 ${version} 吗？`)) return;
    await busy(button, () => api("POST", `${BASE}/models/${version}/activate`, { force: true }));
    toast(`已强制启用 ${version}`, "ok");
  }
  await load();
}

function actions(row) {
  if (row.status !== "ready") return el("td", {});
  const buttons = [el("button", {
    type: "button", "data-testid": `compare-${row.version}`,
    onclick: () => { selected = row.version; load(); },
  }, "对比")];
  if (!row.active) {
    buttons.push(el("button", {
      type: "button", class: "primary", "data-testid": `activate-${row.version}`,
      onclick: (event) => activate(row.version, event.currentTarget),
    }, "启用"));
  }
  return el("td", { class: "ca-buttons" }, buttons);
}

function versionRow(row) {
  const model = (row.figures || {}).model || {};
  const tr = el("tr", {
    class: (row.active ? "active-version " : "") + row.status,
    "data-version": row.version, "data-testid": `version-${row.version}`,
  },
  el("td", {}, row.version, row.active ? el("span", { class: "badge" }, " 启用中") : null),
  el("td", {}, STATES[row.status] || row.status),
  el("td", {}, fmtTime(row.completed_at || row.created_at)),
  el("td", { class: "num" }, row.status === "ready" ? `${row.examples} / ${row.heldout}` : "—"),
  el("td", { class: "num" }, row.score === null || row.score === undefined ? "—"
    : row.score.toFixed(4)),
  METRICS.map(([field, key]) => figureCell(model, field, key)),
  el("td", { class: "num" }, row.size_bytes ? (row.size_bytes / 1e6).toFixed(1) + " MB" : "—"),
  el("td", { class: "num" }, row.seconds ? row.seconds.toFixed(1) + " 秒" : "—"),
  actions(row));
  const rows = [tr];
  if (row.error) {
    rows.push(el("tr", { class: "failed" }, el("td", { colspan: 16, class: "ca-error" },
      `${row.version}：${row.error}`)));
  }
  return rows;
}

function compare(rows) {
  const box = document.getElementById("compare");
  const ready = rows.filter((r) => r.status === "ready");
  const row = ready.find((r) => r.version === selected) || ready.find((r) => r.active) ||
    ready[0];
  if (!row) {
    box.hidden = true;
    return;
  }
  const f = row.figures || {};
  document.getElementById("compare-version").textContent =
    `${row.version}（留出样本 ${row.heldout} 条）`;
  fill(box.querySelector("tbody"), METRICS.map(([field, key, title]) => el("tr", {},
    el("th", { scope: "row" }, title),
    figureCell(f.rules, field, key), figureCell(f.model, field, key),
    figureCell(f.combined, field, key))));
  box.hidden = false;
}

async function load() {
  let data;
  try {
    data = await api("GET", `${BASE}/models`);
  } catch (e) {
    toast(e.message, "error");
    return;
  }
  const inUse = document.getElementById("in-use");
  inUse.textContent = data.classifier === "rules" ? "仅规则（没有可用的模型）"
    : `规则 + 模型 ${data.classifier}`;
  const error = document.getElementById("load-error");
  error.hidden = !data.classifier_error;
  error.textContent = data.classifier_error ? `模型加载失败：${data.classifier_error}` : "";
  document.getElementById("empty").hidden = data.items.length > 0;
  fill(tbody, data.items.map(versionRow));
  compare(data.items);
  trainButton.disabled = data.training;
  document.getElementById("train-note").textContent = data.training
    ? "训练中……（通常需要一分钟左右，完成后自动刷新）" : "";
  clearTimeout(polling);
  if (data.training) polling = setTimeout(load, 3000);
  root.dataset.ready = "true";
}

trainButton.addEventListener("click", async () => {
  try {
    const started = await busy(trainButton, () => api("POST", `${BASE}/train`));
    toast(`已开始训练 ${started.version}`, "ok");
  } catch (e) {
    // busy() has shown the refusal (for example: no examples, or a training already running)
  }
  await load();
});

load();
