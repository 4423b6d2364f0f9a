/* /admin/roster (值班表): the grid workers' duties, paged by the server (the roster has
 * thousands of rows), as a week view (per cell or per worker: who is on duty each weekday and
 * when) or as the list of duties; adding and removing a duty; the spreadsheet import with its
 * dry run and row-by-row report (all or nothing). Names, not codes, wherever a person reads. */
import { api, describe } from "./lib/api.js";
import { importPanel, onSubmit, queryOf } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";

const ROSTER = "/api/v1/admin/roster";
const WEEK = "/api/v1/admin/roster/week";
const root = document.getElementById("admin-roster");
const filters = document.getElementById("filters");
const streetPicker = document.getElementById("filter-street");
const communityPicker = document.getElementById("filter-community");
const areaField = document.getElementById("filter-area");
const weekHead = document.querySelector("#week thead tr");
const weekBody = document.querySelector("#week tbody");
const weekPager = document.getElementById("week-pager");
const listError = document.getElementById("list-error");
let view = "cell";
let weekPage = 1;
let listPage = 1;
let communities = [];
const UNITS = { cell: "个网格", worker: "名网格员", list: "条值班" };

// ---------------------------------------------------------------- the area filter

async function loadAreas() {
  const data = await api("GET", "/api/v1/grid/areas");
  const streets = data.items.filter((a) => a.level === "street");
  communities = data.items.filter((a) => a.level === "community");
  fill(streetPicker, el("option", { value: "" }, "全部"),
    streets.map((s) => el("option", { value: s.code }, s.name)));
}

streetPicker.addEventListener("change", () => {
  const street = streetPicker.value;
  fill(communityPicker, el("option", { value: "" }, "全部"),
    communities.filter((c) => c.parent === street).map((c) => el("option", { value: c.code }, c.name)));
  communityPicker.disabled = !street;
  areaField.value = street;
});
communityPicker.addEventListener("change", () => {
  areaField.value = communityPicker.value || streetPicker.value;
});

// ---------------------------------------------------------------- the week view

function dutyLine(d, by) {
  const who = by === "cell" ? d.display_name : d.cell_name;
  const when = `${d.starts}–${d.ends}${d.overnight ? "（次日）" : ""}`;
  return el("span", { class: "roster-duty" + (d.active ? "" : " inactive"),
    title: d.active ? "" : "该账号已停用" }, `${who} ${when}`);
}

function weekRow(row, by) {
  return el("tr", { dataset: { key: row.key } },
    el("th", { scope: "row" }, row.name,
      row.community_name ? el("div", { class: "muted small" }, row.community_name) : null),
    row.days.map((duties) => duties.length
      ? el("td", {}, duties.map((d) => dutyLine(d, by)))
      : el("td", { class: "empty" }, "无人值班")));
}

function pager(node, page, total, perPage, go) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  fill(node,
    el("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "上一页"),
    el("span", { class: "muted", "data-testid": "pager-status" },
      `第 ${page} / ${pages} 页，共 ${total} ${UNITS[view]}`),
    el("button", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, "下一页"));
}

async function loadWeek(page) {
  weekPage = page || weekPage;
  const query = queryOf(filters, weekPage);
  const data = await api("GET", `${WEEK}?by=${view}&${query}`);
  fill(weekHead, el("th", { scope: "col" }, view === "cell" ? "网格" : "网格员"),
    data.days.map((d) => el("th", { scope: "col" }, d.name)));
  fill(weekBody, data.items.map((row) => weekRow(row, data.by)));
  document.getElementById("week-note").textContent = data.note;
  pager(weekPager, data.page, data.total, data.per_page, loadWeek);
  return data;
}

// ---------------------------------------------------------------- the list of duties

async function remove(duty, button) {
  button.disabled = true;
  listError.hidden = true;
  try {
    await api("DELETE", `${ROSTER}/${duty.id}`);
    await loadList();
  } catch (e) {
    listError.textContent = describe(e);
    listError.hidden = false;
    button.disabled = false;
  }
}

function dutyRow(d) {
  const button = el("button", { type: "button", "data-testid": `remove-${d.id}` }, "删除");
  button.addEventListener("click", () => remove(d, button));
  return el("tr", { dataset: { id: String(d.id) } },
    el("td", {}, d.cell_name || d.cell),
    el("td", {}, [d.community_name, d.street_name].filter(Boolean).join(" / ")),
    el("td", {}, d.display_name || d.username),
    el("td", {}, d.weekdays_text),
    el("td", {}, `${d.starts}–${d.ends}${d.overnight ? "（次日）" : ""}`),
    el("td", {}, d.note || ""),
    el("td", {}, button));
}

async function loadList(page) {
  listPage = page || listPage;
  const data = await api("GET", `${ROSTER}?${queryOf(filters, listPage)}`);
  fill(document.querySelector("#duties tbody"), data.items.map(dutyRow));
  pager(document.getElementById("list-pager"), data.page, data.total, data.per_page, loadList);
  return data;
}

async function refresh(page) {
  listError.hidden = true;
  try {
    await (view === "list" ? loadList(page) : loadWeek(page));
  } catch (e) {
    listError.textContent = describe(e);
    listError.hidden = false;
  }
}

filters.addEventListener("submit", (event) => {
  event.preventDefault();
  refresh(1);
});

for (const tab of document.querySelectorAll("[data-view]")) {
  tab.addEventListener("click", () => {
    view = tab.dataset.view;
    for (const t of document.querySelectorAll("[data-view]")) {
      t.setAttribute("aria-pressed", String(t === tab));
    }
    document.getElementById("week-view").hidden = view === "list";
    document.getElementById("list-view").hidden = view !== "list";
    refresh(1);
  });
}

// ---------------------------------------------------------------- add

const addForm = document.getElementById("add-form");
onSubmit(addForm, async () => {
  const status = addForm.querySelector('[role="status"]');
  status.textContent = "";
  const values = Object.fromEntries(new FormData(addForm));
  const body = {
    cell: values.cell.trim(), username: values.username.trim(),
    weekdays: values.weekdays.trim(), starts: values.starts, ends: values.ends,
  };
  if (values.note.trim()) body.note = values.note.trim();
  const duty = await api("POST", ROSTER, body);
  status.textContent = `已添加：${duty.display_name} 在 ${duty.cell_name}，`
    + `${duty.weekdays_text} ${duty.starts}–${duty.ends}`;
  addForm.elements.cell.value = "";
  await refresh();
});

// ---------------------------------------------------------------- import

importPanel(document.getElementById("import"), `${ROSTER}/import`, () => refresh(1));

loadAreas()
  .then(() => refresh(1))
  .then(() => { root.dataset.ready = "true"; })
  .catch((e) => {
    listError.textContent = describe(e);
    listError.hidden = false;
  });
