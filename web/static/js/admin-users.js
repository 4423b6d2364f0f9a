/* /admin/users: the users a page at a time (search and filters on the server), adding, editing,
 * disabling and enabling, resetting a password (the temporary one shown once), unlocking a
 * login, and the Excel import — all through /api/v1/admin/users. */
import { api } from "./lib/api.js";
import { importPanel, onSubmit, pagedTable, showError } from "./lib/admin.js";
import { el, fill } from "./lib/dom.js";

const USERS = "/api/v1/admin/users";
const root = document.getElementById("admin-users");
const listBox = document.getElementById("list-box");
const listStatus = listBox.querySelector('[role="status"]');
const createForm = document.getElementById("create-form");
const editForm = document.getElementById("edit-form");
const resetForm = document.getElementById("reset-form");
const secretPanel = document.getElementById("secret-panel");
let editing = null;
let resetting = null;

/** What a form holds, as the API takes it: blank text is null (left out for a new user). */
function values(form, dropBlank) {
  const out = {};
  for (const [key, raw] of new FormData(form)) {
    const value = String(raw).trim();
    if (value === "" && dropBlank) continue;
    out[key] = value === "" ? null : value;
  }
  return out;
}

function say(message) {
  showError(listBox, null);
  listStatus.textContent = message;
  listStatus.hidden = !message;
}

function refuse(error) {
  say("");
  showError(listBox, error);
}

function button(label, testid, onclick) {
  return el("button", { type: "button", "data-testid": testid, onclick }, label);
}

function row(user) {
  const status = [el("span", { class: user.active ? "" : "muted" }, user.active ? "启用" : "已停用")];
  if (user.locked) status.push(el("span", { class: "error" }, "登录已锁定"));
  if (user.must_change_password) status.push(el("span", { class: "muted" }, "待修改密码"));
  const name = user.username;
  return el("tr", { dataset: { username: name } },
    el("td", {}, name),
    el("td", {}, user.display_name),
    el("td", {}, user.role_name),
    el("td", {}, user.department_name || ""),
    el("td", {}, user.phone || ""),
    el("td", {}, user.extension || ""),
    el("td", { class: "people-status" }, status),
    el("td", {}, el("div", { class: "people-actions" },
      button("编辑", `edit-${name}`, () => openEdit(user)),
      button(user.active ? "停用" : "启用", `toggle-${name}`, () => setActive(user)),
      button("重置密码", `reset-${name}`, () => openReset(user)),
      user.locked ? button("解锁", `unlock-${name}`, () => unlock(user)) : null)));
}

const table = pagedTable({
  url: USERS,
  filters: document.getElementById("user-filters"),
  body: document.querySelector("#users tbody"),
  render: row,
  pager: document.getElementById("users-pager"),
});

async function reload() {
  try {
    await table.reload();
  } catch (e) {
    refuse(e);
  }
}

async function loadDepartments() {
  const data = await api("GET", "/api/v1/admin/departments");
  for (const select of document.querySelectorAll("select[data-departments]")) {
    const first = select.options[0];
    const all = select.dataset.departments === "all";
    const offered = data.items.filter((d) => all || d.active);
    fill(select, first, offered.map((d) => el("option", { value: d.code },
      "\u3000".repeat(d.depth) + d.name + (d.active ? "" : "（已停用）"))));
  }
}

function choose(select, value) {
  if (value && ![...select.options].some((o) => o.value === value)) {
    select.append(el("option", { value }, value)); // an inactive department the user still has
  }
  select.value = value || "";
}

function openEdit(user) {
  editing = user.username;
  resetForm.hidden = true;
  showError(editForm, null);
  document.getElementById("edit-user").textContent = `${user.display_name}（${user.username}）`;
  editForm.elements.display_name.value = user.display_name || "";
  editForm.elements.role.value = user.role;
  choose(editForm.elements.department, user.department);
  editForm.elements.phone.value = user.phone || "";
  editForm.elements.extension.value = user.extension || "";
  editForm.hidden = false;
  editForm.scrollIntoView({ block: "nearest" });
  editForm.elements.display_name.focus();
}

function openReset(user) {
  resetting = user;
  editForm.hidden = true;
  showError(resetForm, null);
  resetForm.reset();
  document.getElementById("reset-user").textContent = `${user.display_name}（${user.username}）`;
  resetForm.hidden = false;
  resetForm.scrollIntoView({ block: "nearest" });
}

async function setActive(user) {
  try {
    await api("PATCH", `${USERS}/${encodeURIComponent(user.username)}`, { active: !user.active });
    await table.reload();
    say(`已${user.active ? "停用" : "启用"}“${user.display_name}”`);
  } catch (e) {
    refuse(e);
  }
}

async function unlock(user) {
  try {
    await api("POST", `${USERS}/${encodeURIComponent(user.username)}/unlock`);
    await table.reload();
    say(`已解除“${user.display_name}”的登录锁定`);
  } catch (e) {
    refuse(e);
  }
}

onSubmit(createForm, async () => {
  const status = createForm.querySelector('[role="status"]');
  status.textContent = "";
  const user = await api("POST", USERS, values(createForm, true));
  createForm.reset();
  status.textContent = `已新增“${user.display_name}”（${user.role_name}）`;
  await table.reload(1);
});

onSubmit(editForm, async () => {
  const body = values(editForm, false);
  const user = await api("PATCH", `${USERS}/${encodeURIComponent(editing)}`, body);
  editForm.hidden = true;
  await table.reload();
  say(`已保存“${user.display_name}”`);
});

onSubmit(resetForm, async () => {
  const given = resetForm.elements.password.value.trim();
  const answer = await api("POST", `${USERS}/${encodeURIComponent(resetting.username)}/reset_password`,
    given ? { password: given } : {});
  resetForm.reset();
  resetForm.hidden = true;
  document.getElementById("secret-user").textContent = `${answer.display_name}（${answer.username}）`;
  document.getElementById("temporary-password").textContent = answer.temporary_password;
  secretPanel.hidden = false;
  secretPanel.scrollIntoView({ block: "nearest" });
  await table.reload();
});

document.getElementById("secret-close").addEventListener("click", () => {
  document.getElementById("temporary-password").textContent = "";
  secretPanel.hidden = true;
});

for (const form of [editForm, resetForm]) {
  form.querySelector('[data-action="cancel"]').addEventListener("click", () => { form.hidden = true; });
}

importPanel(document.getElementById("import-panel"), `${USERS}/import`, () => table.reload(1));

async function start() {
  try {
    await loadDepartments();
  } catch (e) {
    refuse(e);
  }
  await reload();
  root.dataset.ready = "true";
}

start().catch(refuse);
