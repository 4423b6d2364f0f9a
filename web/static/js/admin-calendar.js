/* /admin/calendar: a year's holidays and make-up working days, official or provisional; the
 * State Council's notice read into entries; the open tickets whose deadlines a change would
 * move (PUT ?dry_run=true) before it is saved. */
import { api } from "./lib/api.js";
import { showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";
import { BOOT } from "./lib/page.js";

const root = document.getElementById("admin-calendar");
const yearInput = document.getElementById("year");
const form = document.getElementById("year-form");
const noticeForm = document.getElementById("notice-form");
const effect = document.getElementById("effect");
const saveButton = form.querySelector("[data-testid=save]");
const saved = document.getElementById("saved");
const SOURCES = { official: "正式（内置）", admin: "正式（管理员录入）", provisional: "暂定" };

const url = () => `/api/v1/admin/calendar/${yearInput.value}`;

function entry(list, day, name) {
  const ul = document.getElementById(list);
  const item = el("li", {},
    el("input", { type: "date", value: day || "", "aria-label": "日期" }),
    el("input", { value: name || "", maxlength: "60", "aria-label": "名称", placeholder: "如 春节" }),
    el("button", { type: "button", "aria-label": "删除这一行", onclick: () => { item.remove(); renumber(); } }, "×"));
  ul.append(item);
  renumber();
}

function renumber() {
  for (const list of ["holidays", "makeup_workdays"]) {
    [...document.getElementById(list).children].forEach((li, i) => {
      const [day, name] = li.querySelectorAll("input");
      day.name = `${list}.${i}.day`;
      name.name = `${list}.${i}.name`;
      li.dataset.testid = `${list}-${i}`;
    });
  }
  saveButton.disabled = true;
}

function show(summary) {
  const badge = document.getElementById("badge");
  badge.textContent = summary.provisional ? "暂定" : "正式";
  badge.className = `cal-badge ${summary.provisional ? "provisional" : "official"}`;
  document.getElementById("summary").textContent =
    `来源：${summary.sources.map((s) => SOURCES[s] || s).join("、")}；全年工作日 ${summary.working_days} 天`;
  fill(document.getElementById("holidays"));
  fill(document.getElementById("makeup_workdays"));
  summary.holidays.forEach((d) => entry("holidays", d.day, d.name));
  summary.makeup_workdays.forEach((d) => entry("makeup_workdays", d.day, d.name));
  effect.replaceChildren();
  saveButton.disabled = true;
}

async function load() {
  showError(form, null);
  show(await api("GET", url()));
}

function collect() {
  const rows = (list) => [...document.getElementById(list).children].map((li) => {
    const [day, name] = li.querySelectorAll("input");
    return { day: day.value, name: name.value };
  });
  return { holidays: rows("holidays"), makeup_workdays: rows("makeup_workdays") };
}

form.querySelector("[data-testid=preview]").addEventListener("click", async () => {
  showError(form, null);
  saved.textContent = "";
  try {
    const answer = await api("PUT", `${url()}?dry_run=true`, collect());
    const moved = answer.deadlines_moved;
    fill(effect,
      el("p", { "data-testid": "effect-summary" }, `保存后全年工作日 ${answer.working_days} 天；`
        + `将重新计算 ${moved.recomputed} 件在办工单的期限，其中 ${moved.count} 件的办结期限会改变。`),
      moved.tickets.length ? el("ul", {}, moved.tickets.map((t) => el("li", {},
        `${t.number}：${new Date(t.old_deadline).toLocaleString("zh-CN")} → ${new Date(t.new_deadline).toLocaleString("zh-CN")}`))) : null);
    saveButton.disabled = false;
  } catch (e) {
    effect.replaceChildren();
    showError(form, e);
  }
});

form.addEventListener("input", () => { saveButton.disabled = true; });

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const answer = await api("PUT", url(), collect());
    show(answer);
    saved.textContent = `已保存；重新计算了 ${answer.tickets_recomputed} 件工单的期限`;
  } catch (e) {
    showError(form, e);
  }
});

function useEntries(parsed, source) {
  fill(document.getElementById("holidays"));
  fill(document.getElementById("makeup_workdays"));
  parsed.holidays.forEach((d) => entry("holidays", d.day, d.name));
  parsed.makeup_workdays.forEach((d) => entry("makeup_workdays", d.day, d.name));
  effect.replaceChildren();
  saved.textContent = `已从${source}读取 ${parsed.holidays.length} 个放假日、${parsed.makeup_workdays.length} 个调休上班日，请核对后预览并保存`;
}

noticeForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const parsed = await api("POST", `${url()}/notice`, { text: noticeForm.elements.text.value });
    showError(noticeForm, null);
    useEntries(parsed, "通知");
  } catch (e) {
    showError(noticeForm, e);
  }
});

noticeForm.querySelector("[data-testid=read-sheet]").addEventListener("click", async () => {
  const input = document.getElementById("sheet");
  const report = document.getElementById("sheet-report");
  report.replaceChildren();
  if (!input.files.length) {
    showError(noticeForm, new Error("请先选择表格文件"));
    return;
  }
  const body = new FormData();
  body.append("file", input.files[0]);
  try {
    const parsed = await api("POST", `${url()}/sheet`, body);
    showError(noticeForm, null);
    const rejected = parsed.report.rejected;
    if (rejected.length) {
      fill(report, el("p", { class: "error", role: "alert" }, `有 ${rejected.length} 行不能读取，表格未采用：`),
        el("ul", {}, rejected.map((r) => el("li", {}, `第 ${r.row} 行：${r.message}`))));
      return;
    }
    useEntries(parsed, "表格");
  } catch (e) {
    showError(noticeForm, e);
  }
});

form.querySelector("[data-testid=add-holiday]").addEventListener("click", () => entry("holidays"));
form.querySelector("[data-testid=add-makeup]").addEventListener("click", () => entry("makeup_workdays"));
root.querySelector("[data-testid=prev-year]").addEventListener("click", () => { yearInput.value = Number(yearInput.value) - 1; load(); });
root.querySelector("[data-testid=next-year]").addEventListener("click", () => { yearInput.value = Number(yearInput.value) + 1; load(); });
yearInput.addEventListener("change", load);

yearInput.value = String(BOOT.year || new Date().getFullYear());
load().then(() => { root.dataset.ready = "true"; });
