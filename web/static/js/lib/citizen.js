/* Pure helpers of the citizens' pages (/report, /track): checks before sending, the pick-up
 * code as typed, where a demand stands as a style. No DOM, no network: unit-tested with
 * `node --test tests/js/citizen.test.mjs`. */

const CODE_CHARS = /^[A-HJ-NP-Z2-9]+$/;
const NUMBER = /^\d{5}-\d{8}-\d{6}$/;

/** What is wrong with the chosen photos (a Chinese message naming the field), or null. */
export function photoProblem(files, maxPhotos, maxBytes) {
  const list = Array.from(files || []);
  if (list.length > maxPhotos) {
    return `照片：最多上传 ${maxPhotos} 张（选了 ${list.length} 张）`;
  }
  const mb = Math.floor(maxBytes / (1024 * 1024));
  for (let i = 0; i < list.length; i += 1) {
    const f = list[i];
    if (f.size > maxBytes) return `照片：第 ${i + 1} 张超过 ${mb} MB，请压缩后再上传`;
    if (f.type && !f.type.startsWith("image/")) return `照片：第 ${i + 1} 张不是图片`;
  }
  return null;
}

/** The pick-up code as stored: upper case, without spaces or dashes. */
export function normalizeCode(raw) {
  return String(raw || "").toUpperCase().replace(/[\s-]/g, "");
}

/** What is wrong with a number and code typed on /track (Chinese, naming the field), or null. */
export function trackProblem(number, code, length) {
  const n = String(number || "").trim();
  const c = normalizeCode(code);
  if (!n) return "工单编号：请填写工单编号";
  if (!NUMBER.test(n)) return "工单编号：格式应为 12345-年月日-六位序号，例如 12345-20261123-000123";
  if (!c) return "提取码：请填写提取码";
  if (c.length !== length || !CODE_CHARS.test(c)) return `提取码：应为 ${length} 位字母或数字`;
  return null;
}

/** What is wrong with the demand before it is sent (Chinese, naming the field), or null. */
export function reportProblem({ text, address, lon, anonymous, phone }) {
  if (!String(text || "").trim()) return "反映的问题：请写下您要反映的问题";
  if (!String(address || "").trim() && (lon === "" || lon === null || lon === undefined)) {
    return "位置：请在地图上点一下标出位置，或填写地址";
  }
  if (!anonymous && !String(phone || "").trim()) {
    return "手机号：请填写手机号，或选择匿名反映";
  }
  return null;
}

/** The style of a state word: done, waiting for the citizen, alarm, or under way. */
export function stateTone(state) {
  if (state === "待评价") return "waiting";
  if (state === "已办结") return "done";
  if (state === "已转110处理") return "alarm";
  if (state === "不予受理") return "closed";
  return "progress";
}

/** The link to /track for a number (the code is never put in a link: it would be logged). */
export function trackHref(number) {
  return "/track?number=" + encodeURIComponent(number);
}
