/* Citizen phone numbers on the pages (pure: node tests import it). The server validates and
 * masks them (dispatch/intake/phones.py); the pages only read what operators type and show what
 * the API gives. */

/** A typed Chinese phone number as the server will accept it (mobile: 11 digits from 13–19;
 * landline: 0 and the area code, 10–12 digits), spaces, dashes, brackets and a +86/0086 prefix
 * dropped; null for a number that is not complete yet (no request while the operator types). */
export function normalizePhone(raw) {
  const v = String(raw || "").replace(/[\s\-()]/g, "").replace(/^(\+86|0086)/, "");
  return /^1[3-9]\d{9}$/.test(v) || /^0\d{9,11}$/.test(v) ? v : null;
}

/** Whether the API masked a phone number (138****1234). */
export function isMasked(phone) {
  return String(phone || "").includes("*");
}

/** How to show a phone number the API gave: its text, and a tel: link only when it is the real
 * number (a masked one cannot be called); null for no number. */
export function phoneView(phone) {
  if (!phone) return null;
  const text = String(phone);
  return { text, href: isMasked(text) ? null : "tel:" + text.replace(/[^\d+]/g, "") };
}

/** The citizen of a ticket in one line: hidden from this user, anonymous, or name and phone as
 * the API gives them (masked for who may not see them); "保密" appended for a confidential one. */
export function citizenText(c) {
  if (!c) return "";
  if (c.hidden) return "（保密）";
  const parts = [c.anonymous ? "匿名" : c.name, c.phone].filter(Boolean);
  if (c.confidential) parts.push("保密");
  return parts.join(" ") || "—";
}
