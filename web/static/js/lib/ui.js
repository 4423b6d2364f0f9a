/* Small page furniture: toasts, and buttons that run an action. */
import { describe } from "./api.js";
import { el } from "./dom.js";

/** Show a message for a few seconds (errors longer); kind: "info", "ok" or "error". */
export function toast(message, kind) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = el("div", { class: "toast " + (kind || "info"), role: "status" }, message);
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Run an async action from a button: disabled while running, a failure shown as a toast (and
 * thrown on). */
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(describe(e), "error");
    throw e;
  } finally {
    if (button) button.disabled = false;
  }
}
