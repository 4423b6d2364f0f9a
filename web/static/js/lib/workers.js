/* The console's grid-worker picker (pure: node tests import it). The dispatcher picks a cell's
 * grid worker by name from GET /api/v1/grid/cells/<code>/workers, those on duty now first; the
 * username is only the submitted value (and the option's tooltip), never something to type. */

/** The picker's "nobody" choice: the assignment goes to the department alone. */
export const NOBODY = "（不指定网格员）";

/**
 * The options of the picker: "nobody" first, then the cell's workers on duty now, then the
 * others (server order kept within each group), each labelled by name with 值班中/不在班.
 * `preferred` (a username: the routing's on-duty worker, or the one last assigned) is selected;
 * one that is no longer on the cell's roster is still offered, under `knownName` if given.
 * items: [{username, name, on_duty, duties}]. Returns [{value, label, title, selected}].
 */
export function workerChoices(items, preferred, knownName) {
  const workers = (items || []).filter((w) => w && w.username);
  const ordered = [...workers.filter((w) => w.on_duty), ...workers.filter((w) => !w.on_duty)];
  const out = [{ value: "", label: NOBODY, title: "", selected: !preferred }];
  for (const w of ordered) {
    out.push({
      value: w.username,
      label: `${w.name || w.username}（${w.on_duty ? "值班中" : "不在班"}）`,
      title: [w.username, ...(w.duties || [])].join(" · "),
      selected: w.username === preferred,
    });
  }
  if (preferred && !ordered.some((w) => w.username === preferred)) {
    out.push({ value: preferred, label: `${knownName || "原指定网格员"}（不在本网格名册）`,
      title: preferred, selected: true });
  }
  return out;
}
