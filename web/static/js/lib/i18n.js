/* The translation table's reader (pure: node tests import it). The table itself is web/i18n.py's
 * ZH, put in every page as the #i18n JSON island and read by page.js. */

/** A function giving the Chinese label of a code in a group of the table (DOMAIN.md names), or
 * the code itself when the table has none; booleans are looked up as "true"/"false". */
export function translator(table) {
  return function zh(group, code) {
    if (code === null || code === undefined) return "";
    const entries = (table && table[group]) || {};
    const key = typeof code === "boolean" ? String(code) : code;
    return Object.prototype.hasOwnProperty.call(entries, key) ? entries[key] : String(code);
  };
}
