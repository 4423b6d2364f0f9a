/* A page of numeric settings replaced as a whole (the assessment scheme, the repeat rules):
 * its form shows what the server holds, 保存 sends every field as a number (an empty field as
 * null, which the server refuses at that field, saving nothing) and shows what it kept,
 * 恢复默认值 puts the defaults in the form (saved only by 保存). The page passes in its API
 * client and the admin form helpers: this module reads no page of its own. */

/** Put each value in the form's input of that name (a name with no input is skipped). */
export function showNumbers(form, values) {
  for (const [name, value] of Object.entries(values)) {
    if (form.elements[name]) form.elements[name].value = String(value);
  }
}

/** The named inputs as numbers for the server; an empty (or blank) input is null. */
export function readNumbers(form, names) {
  const body = {};
  for (const name of names) {
    const raw = form.elements[name].value.trim();
    body[name] = raw === "" ? null : Number(raw);
  }
  return body;
}

/** Wire the settings page under `root` (its form, #saved note and #defaults button) to
 * `url`: load it (then root's data-ready is "true"), save it with PUT, reset to `defaults`.
 * tools: { api(method, url, body), onSubmit(form, action), showError(form, error) }.
 * Returns the first load. */
export function numberSettings(root, url, defaults, { api, onSubmit, showError }) {
  const form = root.querySelector("form");
  const saved = root.querySelector("#saved");
  onSubmit(form, async () => {
    saved.textContent = "";
    showNumbers(form, await api("PUT", url, readNumbers(form, Object.keys(defaults))));
    saved.textContent = "已保存";
  });
  root.querySelector("#defaults").addEventListener("click", () => showNumbers(form, defaults));
  return api("GET", url).then((values) => {
    showNumbers(form, values);
    root.dataset.ready = "true";
  }).catch((e) => showError(form, e));
}
