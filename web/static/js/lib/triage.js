/* Pure helpers of the triage settings page (no DOM): the category tree as picker options, and
 * the thresholds as table rows. */

/** The category tree as a flat list, parents first, each labelled with its path. */
export function flattenTree(nodes, path = []) {
  const out = [];
  for (const node of nodes || []) {
    const names = [...path, node.name];
    out.push({ code: node.code, name: node.name, label: names.join(" › ") });
    out.push(...flattenTree(node.children, names));
  }
  return out;
}

/** The thresholds as rows sorted by code, labelled with the category's name when known. */
export function thresholdRows(rules, names) {
  return Object.keys(rules || {}).sort().map((code) => ({
    code,
    label: names && names[code] ? `${names[code]}（${code}）` : code,
    value: rules[code],
  }));
}
