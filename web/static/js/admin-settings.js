/* /admin/settings: the settings an admin may change that have no page of their own (the
 * locator's distances, /api/v1/admin/locator-settings); the others are linked from the page.
 * A refusal is shown at the field it names and nothing is saved. */
import { api } from "./lib/api.js";
import { onSubmit, showError } from "./lib/admin.js";

const root = document.getElementById("admin-settings");

/** One settings form: its inputs are named as the setting's fields. */
function settingForm(form, url, defaults) {
  const saved = form.querySelector('[role="status"]');
  const show = (values) => {
    for (const [name, value] of Object.entries(values)) {
      if (form.elements[name]) form.elements[name].value = String(value);
    }
  };
  onSubmit(form, async () => {
    saved.textContent = "";
    const body = {};
    for (const name of Object.keys(defaults)) {
      const raw = form.elements[name].value.trim();
      body[name] = raw === "" ? null : Number(raw);
    }
    show(await api("PUT", url, body));
    saved.textContent = "已保存";
  });
  form.querySelector('[data-action="defaults"]').addEventListener("click", () => show(defaults));
  return api("GET", url).then(show).catch((e) => showError(form, e));
}

Promise.all([
  settingForm(document.getElementById("locator-form"), "/api/v1/admin/locator-settings",
    { boundary_m: 50, nearest_max_m: 1000 }),
]).then(() => { root.dataset.ready = "true"; });
