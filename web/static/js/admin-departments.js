/* /admin/departments: the departments as a tree (functional bureaus; street offices and the
 * communities and villages under them), adding, editing (name, kind, parent, SMS phones),
 * deactivating and reactivating, and the Excel import — through /api/v1/admin/departments. */
import { api } from "./lib/api.js";
import { importPanel, onSubmit, showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";

const DEPTS = "/api/v1/admin/departments";
const root = document.getElementById("admin-departments");
const listBox = document.getElementById("list-box");
const listStatus = listBox.querySelector('[role="status"]');
const tbody = document.querySelector("#departments tbody");
const createForm = document.getElementById("create-form");
const editForm = document.getElementById("edit-form");
let editing = null;

function say(message) {
  showError(listBox, null);
  listStatus.textContent = message;
  listStatus.hidden = !message;
}

function refuse(error) {
  say("");
  showError(listBox, error);
}

/** The phones typed in a textarea: one per line, or separated by commas or 、 (a space may be
 * inside a number: "139 0013 9000"). */
function phonesOf(text) {
  return String(text).split(/[\r\n,，;；、]+/).map((p) => p.trim()).filter(Boolean);
}

function body(form, forCreate) {
  const data = new FormData(form);
  const out = {};
  for (const key of ["code", "name", "kind", "parent_code", "street"]) {
    if (!data.has(key)) continue;
    const value = String(data.get(key)).trim();
    if (value === "" && forCreate && key !== "name" && key !== "code") continue;
    out[key] = value === "" && key !== "name" && key !== "code" ? null : value;
  }
  out.phones = phonesOf(data.get("phones") || "");
  return out;
}

function row(d) {
  const name = el("span", { class: "dept-name", style: `padding-left: ${d.depth * 1.5}em` },
    d.depth ? "└ " : "", d.name, " ", el("span", { class: "muted dept-code" }, d.code));
  return el("tr", { dataset: { code: d.code }, class: d.active ? "" : "dept-inactive" },
    el("td", {}, name),
    el("td", {}, d.kind_name),
    el("td", {}, d.parent_name || ""),
    el("td", {}, d.phones.join("、")),
    el("td", {}, String(d.active_users)),
    el("td", {}, String(d.open_assignments)),
    el("td", {}, d.active ? "启用" : "已停用"),
    el("td", {}, el("div", { class: "people-actions" },
      el("button", { type: "button", "data-testid": `edit-${d.code}`, onclick: () => openEdit(d) }, "编辑"),
      el("button", { type: "button", "data-testid": `toggle-${d.code}`, onclick: () => setActive(d) },
        d.active ? "停用" : "启用"))));
}

function fillParents(items) {
  for (const select of document.querySelectorAll("select[data-parents]")) {
    const first = select.options[0];
    fill(select, first, items.filter((d) => d.active).map((d) =>
      el("option", { value: d.code }, "\u3000".repeat(d.depth) + `${d.name}（${d.kind_name}）`)));
  }
}

async function load() {
  const data = await api("GET", DEPTS);
  fill(tbody, data.items.map(row));
  fillParents(data.items);
  return data;
}

function openEdit(d) {
  editing = d.code;
  showError(editForm, null);
  document.getElementById("edit-name").textContent = d.name;
  editForm.elements.name.value = d.name;
  editForm.elements.kind.value = d.kind;
  const parent = editForm.elements.parent_code;
  if (d.parent_code && ![...parent.options].some((o) => o.value === d.parent_code)) {
    parent.append(el("option", { value: d.parent_code }, d.parent_name || d.parent_code));
  }
  parent.value = d.parent_code || "";
  editForm.elements.street.value = d.street || "";
  editForm.elements.phones.value = d.phones.join("\n");
  editForm.hidden = false;
  editForm.scrollIntoView({ block: "nearest" });
  editForm.elements.name.focus();
}

async function setActive(d) {
  try {
    await api("PUT", `${DEPTS}/${encodeURIComponent(d.code)}`, { active: !d.active });
    await load();
    say(`已${d.active ? "停用" : "启用"}“${d.name}”`);
  } catch (e) {
    refuse(e);
  }
}

onSubmit(createForm, async () => {
  const status = createForm.querySelector('[role="status"]');
  status.textContent = "";
  const d = await api("POST", DEPTS, body(createForm, true));
  createForm.reset();
  await load();
  status.textContent = `已新增“${d.name}”`;
});

onSubmit(editForm, async () => {
  const d = await api("PUT", `${DEPTS}/${encodeURIComponent(editing)}`, body(editForm, false));
  editForm.hidden = true;
  await load();
  say(`已保存“${d.name}”`);
});

editForm.querySelector('[data-action="cancel"]').addEventListener("click", () => { editForm.hidden = true; });

importPanel(document.getElementById("import-panel"), `${DEPTS}/import`, () => load().catch(refuse));

load().then(() => { root.dataset.ready = "true"; }).catch(refuse);
