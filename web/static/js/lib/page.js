/* What the server put in the page for its scripts, read once: the translation table (#i18n,
 * web/i18n.py), the boot data (#boot: the user, the server's clock, settings), the CSRF token.
 * Reads the document when imported, so only page scripts import it (node tests import the pure
 * modules). */
import { translator } from "./i18n.js";

function island(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : {};
}

export const I18N = island("i18n");
export const BOOT = island("boot");

/** The Chinese label of a code: zh("status", "NEW") → "待派单" (the code itself if unknown). */
export const zh = translator(I18N);

const csrfMeta = document.querySelector('meta[name="csrf-token"]');

/** The token every state-changing request carries (X-CSRFToken). */
export function csrfToken() {
  return csrfMeta ? csrfMeta.content : "";
}

// The server's clock may differ from the browser's (and tests run on a manual clock).
const skewMs = BOOT.server_now ? Date.parse(BOOT.server_now) - Date.now() : 0;

/** Now on the server's clock, in ms. */
export function now() {
  return Date.now() + skewMs;
}
