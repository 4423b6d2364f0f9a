/* What the console's drawer works out for a reviewer and for a 改派 (pure: node tests import
 * it): how far a completion was reported from the ticket's place, how long the handling took,
 * and which department to suggest when one has just returned the ticket, with the reason. The
 * distance and the time are lib/evidence.js's, shared with the dashboard's ticket view. */

/** The street office of a street: the active territorial department of that street whose name
 * says it is a street, town or township office (else the first one of that street). */
function streetOffice(departments, street) {
  if (!street) return null;
  const here = departments.filter((d) => d.kind === "territorial" && d.active !== false &&
    d.street === street);
  return here.find((d) => /(街道|镇|乡)(办事处)?$/.test(d.name)) || here[0] || null;
}

/**
 * The department to suggest for a 改派, and why: never one that returned this ticket.
 * In order: the catalogue's lead (routing.lead), a co-handler of the catalogue's routing, the
 * street office of the place (属地兜底). Returns {code, name, why, returned: [{code, name,
 * reason}]} or {code: null, why} when there is no candidate left.
 * ticket: {routing, assignments, location: {street}}; departments: [{code, name, kind, street,
 * active}].
 */
export function nextCandidate(ticket, departments) {
  const byCode = new Map(departments.map((d) => [d.code, d]));
  const name = (code) => (byCode.get(code) || {}).name || code;
  const routing = ticket.routing || {};
  const back = (ticket.assignments || []).filter((a) => a.status === "returned");
  const returned = new Set(back.map((a) => a.department));
  const usable = (code) => code && !returned.has(code) &&
    (!byCode.has(code) || byCode.get(code).active !== false);
  const said = back.map((a) => ({ code: a.department, name: a.department_name || name(a.department),
    reason: a.return_reason || "" }));
  const office = streetOffice(departments, (ticket.location || {}).street);
  const options = [
    [routing.lead, "派单目录推荐的主办单位"],
    ...(routing.co_handlers || []).map((c) => [c, "派单目录中此事项的协办单位，可改为主办"]),
    [office && office.code, "事发地所在街道（属地兜底）"],
  ];
  for (const [code, why] of options) {
    if (usable(code)) return { code, name: name(code), why, returned: said };
  }
  return { code: null, name: null, why: "退单单位之外没有可推荐的部门，请派单员选择",
    returned: said };
}

/** The sentence the 改派 form shows: who returned it and why, whom we suggest and why. */
export function candidateText(candidate) {
  const last = candidate.returned[candidate.returned.length - 1];
  const head = last ? `${last.name} 已退单${last.reason ? `（${last.reason}）` : ""}。` : "";
  if (!candidate.code) return head + candidate.why;
  return `${head}建议改派 ${candidate.name}：${candidate.why}。`;
}
