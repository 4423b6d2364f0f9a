/* 巡查上报 on the grid worker's phone page: what the worker found on patrol — photos (uploaded
 * at once, before the report: POST /api/v1/attachments), the current location (GPS, required),
 * the category, a description, and "现场已处理" (自办自结) with the result and photos before and
 * after. The report is POST /api/v1/tickets with channel "patrol"; the server checks and
 * refuses in Chinese naming the field (shown at the form). */
import { api } from "./lib/api.js";
import { el, fill } from "./lib/dom.js";
import { zh } from "./lib/page.js";
import { toast } from "./lib/ui.js";
import { explain, locator, photoPicker } from "./ticket-work.js";

/** The top-level categories (code, name) for the category select. */
async function categories() {
  try {
    const data = await api("GET", "/api/v1/categories");
    return (data.items || []).map((c) => [c.code, c.name]);
  } catch (e) {
    return [];
  }
}

/** Fill `node` with the patrol form; `onDone(ticket)` after a report was filed, `onCancel()`. */
export async function patrolForm(node, { onDone, onCancel }) {
  const error = el("div", { class: "form-error error", role: "alert",
    "data-testid": "patrol-error" });
  const found = photoPicker(null, { capture: true });
  const place = locator();
  const category = el("select", { name: "category", "data-testid": "patrol-category" },
    el("option", { value: "" }, "（由系统建议）"),
    (await categories()).map(([code, name]) => el("option", { value: code }, name)));
  const text = el("textarea", { name: "text", required: true, maxlength: 4000, rows: 3,
    placeholder: "发现了什么：位置、情况、影响", "data-testid": "patrol-text" });
  const handled = el("input", { type: "checkbox", name: "self_handled",
    "data-testid": "patrol-self-handled" });
  const result = el("textarea", { name: "result", maxlength: 4000, rows: 2,
    placeholder: "现场做了什么、结果如何", "data-testid": "patrol-result" });
  const before = photoPicker(null, { capture: true });
  const after = photoPicker(null, { capture: true });
  const selfPart = el("fieldset", { class: "self-handled", hidden: true },
    el("legend", {}, "自办自结（报街道审核）"),
    el("label", {}, "处理结果", result),
    el("div", { class: "photo-group" }, el("span", {}, "处理前照片"), before.node),
    el("div", { class: "photo-group" }, el("span", {}, "处理后照片"), after.node));
  handled.addEventListener("change", () => {
    selfPart.hidden = !handled.checked;
    result.required = handled.checked;
  });
  const send = el("button", { type: "submit", class: "primary", "data-testid": "patrol-submit" },
    "提交上报");
  const cancel = el("button", { type: "button", onclick: () => onCancel() },
    zh("ui", "cancel"));
  const form = el("form", { class: "form action-form patrol-form", "data-testid": "patrol-form" },
    el("h2", {}, "巡查上报"),
    el("div", { class: "photo-group" }, el("span", {}, "现场照片（必填）"), found.node),
    place.node,
    el("label", {}, "事项分类", category),
    el("label", {}, "情况描述", text),
    el("label", { class: "check" }, handled, "现场已处理（自办自结）"),
    selfPart, error,
    el("div", { class: "form-buttons" }, send, cancel));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!form.reportValidity() || send.disabled) return;
    error.textContent = "";
    send.disabled = true;
    try {
      const photos = await found.ids();
      if (!photos.length) throw new Error("请至少拍一张现场照片");
      const pos = place.position();
      if (!pos) throw new Error("未获取定位，请允许定位后点“重新定位”");
      const body = { channel: "patrol", text: text.value.trim(), attachments: photos,
        lon: pos.lon, lat: pos.lat };
      if (category.value) body.category = category.value;
      if (handled.checked) {
        body.self_handled = { result: result.value.trim(), before: await before.ids(),
          after: await after.ids() };
      }
      const ticket = await api("POST", "/api/v1/tickets", body);
      toast(`已上报：${ticket.number}`, "ok");
      onDone(ticket);
    } catch (e) {
      error.textContent = e instanceof Error && !e.code ? e.message : explain(e);
    } finally {
      send.disabled = false;
    }
  });
  fill(node, form);
  text.focus();
}
