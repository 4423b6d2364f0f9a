/* /track: the number and the pick-up code → where the demand stands, its public steps, the
 * department's reply and published photos; the rating once it is reviewed. */
import { normalizeCode, stateTone, trackProblem } from "./lib/citizen.js";
import { el, fill } from "./lib/dom.js";
import { fmtTime } from "./lib/format.js";
import { boot, call } from "./lib/public-api.js";

const BOOT = boot();
const $ = (id) => document.getElementById(id);
let current = null; // { number, code }

function show(box, message) {
  $(box).textContent = message || "";
  $(box).hidden = !message;
}

function gallery(id, urls, what) {
  fill($(id), ...urls.map((u, i) => el("a", { href: u, target: "_blank", rel: "noopener" },
    el("img", { src: u, alt: `${what}第 ${i + 1} 张`, loading: "lazy" }))));
}

function render(view) {
  $("result").hidden = false;
  $("result-number").textContent = view.number;
  const state = $("result-state");
  state.textContent = view.state;
  state.className = "tone-" + stateTone(view.state);
  $("result-text").textContent = view.text;
  $("result-category").textContent = view.category || "待分类";
  $("result-department").textContent = view.department || "待派单";
  $("result-address").textContent = view.address || "已在地图上标出";
  fill($("result-steps"), ...view.steps.map((s) => el("li", null,
    el("time", { datetime: s.at }, fmtTime(s.at, true)), " ", s.label)));
  $("reply-box").hidden = !view.reply;
  $("result-reply").textContent = view.reply || "";
  gallery("reply-photos", view.reply_photos, "办理结果照片");
  $("own-photos-box").hidden = !view.own_photos.length;
  gallery("own-photos", view.own_photos, "您上传的照片");
  $("rate-form").hidden = !view.can_rate;
  const rated = view.rating ? `您的评价：${view.rating}${view.resolved === false ? "，未解决" : ""}` : "";
  show("rated", rated);
}

async function lookup(event) {
  if (event) event.preventDefault();
  const number = $("number").value.trim();
  const code = normalizeCode($("code").value);
  const problem = trackProblem(number, code, BOOT.code_length || 6);
  if (problem) { show("track-error", problem); return; }
  show("track-error", "");
  try {
    const view = await call("GET", `/api/v1/public/requests/${encodeURIComponent(number)}`
      + `?code=${encodeURIComponent(code)}`);
    current = { number, code };
    render(view);
    $("result").focus();
  } catch (e) {
    $("result").hidden = true;
    show("track-error", e.message);
  }
}

async function rate(event) {
  event.preventDefault();
  const sat = document.querySelector('input[name="satisfaction"]:checked');
  const res = document.querySelector('input[name="resolved"]:checked');
  if (!sat) { show("rate-error", "满意度：请选择满意、基本满意或不满意"); return; }
  if (!res) { show("rate-error", "解决情况：请选择已解决或未解决"); return; }
  show("rate-error", "");
  try {
    const view = await call("POST", `/api/v1/public/requests/${encodeURIComponent(current.number)}`
      + `/rating?code=${encodeURIComponent(current.code)}`,
    { satisfaction: sat.value, resolved: res.value === "true" });
    render(view);
    show("rated", `感谢您的评价（${view.rating}）！` + (view.state === "重新办理中"
      ? "我们将督促承办单位重新办理。" : ""));
  } catch (e) {
    show("rate-error", e.message);
  }
}

$("track-form").addEventListener("submit", lookup);
$("rate-form").addEventListener("submit", rate);
// The forms are answered by this script only: their buttons wait for it (disabled in the page),
// since a submission before it would reload the page and lose the code typed.
for (const button of document.querySelectorAll("form [type=submit]")) button.disabled = false;
