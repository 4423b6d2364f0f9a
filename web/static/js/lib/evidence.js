/* What a completion shows a reviewer or a leader (pure: node tests import it): for each
 * completion of a ticket, its photos (attachment ids, read from /api/v1/attachments/<id>), the
 * place it was reported from against the ticket's, and how long the handling took. */

/** Metres between two WGS-84 points {lon, lat} (haversine); null when either is missing. */
export function metres(a, b) {
  const ok = (p) => p && typeof p.lon === "number" && typeof p.lat === "number";
  if (!ok(a) || !ok(b)) return null;
  const rad = (d) => d * Math.PI / 180;
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 +
    Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

/** "350 米" / "1.2 公里"; null for no distance. */
export function distanceText(m) {
  if (m === null || m === undefined) return null;
  return m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`;
}

/** "距诉求位置 350 米" / "距诉求位置 1.2 公里"; what to say when a place is missing. */
export function placeText(m, reported, ticketPlace) {
  if (!reported) return "办结时未上报位置";
  if (m === null) return ticketPlace ? "位置无法比较" : "工单无位置，无法比较";
  return `距诉求位置 ${distanceText(m)}`;
}

/** "1天2小时5分" / "3小时0分" / "5分" between two ISO instants ("" when either is missing). */
export function duration(from, to) {
  if (!from || !to) return "";
  const minutes = Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  return (days ? `${days}天` : "") + (days || hours ? `${hours}小时` : "") + `${minutes % 60}分`;
}

/** Far from the ticket's place: a reviewer should look (metres). */
export const FAR_METRES = 500;

/**
 * The completions of a ticket (API read: events, assignments, location), newest first:
 * [{at, department, departmentName, result, onTime, photos: [id], place: {lon, lat} | null,
 *   metres, far, took}], `took` from the assignment's dispatch to the completion.
 */
export function completions(ticket) {
  const byId = new Map((ticket.assignments || []).map((a) => [a.id, a]));
  const loc = ticket.location || {};
  const here = typeof loc.lon === "number" ? { lon: loc.lon, lat: loc.lat } : null;
  return (ticket.events || []).filter((e) => e.action === "complete").map((e) => {
    const p = e.payload || {};
    const a = byId.get(p.assignment_id) || (ticket.assignments || []).find(
      (x) => x.department === p.department && x.completed_at === e.at) || null;
    const place = p.location && typeof p.location.lon === "number"
      ? { lon: p.location.lon, lat: p.location.lat } : null;
    const m = metres(place, here);
    return {
      at: e.at, department: p.department || (a && a.department) || null,
      departmentName: (a && a.department_name) || p.department || "",
      result: p.result || "", onTime: p.on_time, photos: (p.attachments || []).slice(),
      place, metres: m, far: m !== null && m > FAR_METRES,
      placeText: placeText(m, place, here),
      took: duration(a && a.dispatched_at, e.at),
    };
  }).reverse();
}
