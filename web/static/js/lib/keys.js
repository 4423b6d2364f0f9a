/* Keyboard maps (pure: node tests import it). A page names its keys in a map from chords to
 * actions, per context (the pane the user is in), and asks resolveKey what a key event means. */

const MODIFIERS = [["ctrlKey", "Ctrl"], ["altKey", "Alt"], ["shiftKey", "Shift"]];

/** The chord a key event names, modifiers in a fixed order: "Ctrl+Enter", "Alt+KeyN",
 * "Alt+Digit1", "Escape", "1". Meta (⌘) counts as Ctrl. With Ctrl or Alt held, letters and
 * digits are named by their physical key (ev.code: Alt+1 types "¡" on a Mac, Alt+N "˜");
 * otherwise by what the key types (ev.key: "1" from the top row or the keypad). */
export function chord(ev) {
  const mods = MODIFIERS.filter(([prop, name]) => ev[prop] || (name === "Ctrl" && ev.metaKey))
    .map(([, name]) => name);
  const physical = (ev.ctrlKey || ev.metaKey || ev.altKey) &&
    /^(Key[A-Z]|Digit[0-9])$/.test(ev.code || "");
  const key = physical ? ev.code : ev.key;
  return [...mods, key].join("+");
}

/** What a key event means in a context: {action, arg} from map[context] (or map["*"], any
 * context), or null. A map's value is "action" or "action:arg". */
export function resolveKey(map, ev, context) {
  if (ev.isComposing) return null; // an IME is composing Chinese text: its keys are its own
  const name = chord(ev);
  const value = (map[context] && map[context][name]) || (map["*"] && map["*"][name]);
  if (!value) return null;
  const i = value.indexOf(":");
  if (i < 0) return { action: value, arg: null };
  return { action: value.slice(0, i), arg: value.slice(i + 1) };
}

/** The index an arrow key moves to in a row of `length` tabs, wrapping around; null for other
 * keys. */
export function arrowStep(key, index, length) {
  if (key === "ArrowRight") return (index + 1) % length;
  if (key === "ArrowLeft") return (index + length - 1) % length;
  return null;
}

const ARTICLE_KEYS = Object.fromEntries(
  [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [`Alt+Digit${n}`, `article:${n}`]));

/** The operator's screen (intake.js), as its page shows: on the call, Ctrl+Enter 派单 ·
 * Alt+R 直接答复 · Alt+P 转110 · Alt+A 采纳建议 · Alt+L 定位 · Alt+1…9 知识库答复 ·
 * Alt+T 模板/常用语 · Alt+K 搜索知识库 · Alt+M 地图（方向键移动、+/− 缩放） · Esc Esc 清空;
 * anywhere Alt+N 新来电 · Alt+Q 回访队列; in the callback queue Ctrl+Enter 记录回访 · Alt+U 未接通. */
export const INTAKE_KEYS = {
  "*": { "Alt+KeyN": "new_call", "Alt+KeyQ": "callbacks" },
  call: {
    ...ARTICLE_KEYS,
    "Alt+KeyA": "accept_suggestion", "Alt+KeyL": "locate", "Alt+KeyK": "kb_search",
    "Alt+KeyM": "map", "Alt+KeyT": "phrases", "Alt+KeyR": "answer",
    "Alt+KeyP": "transfer_110", "Ctrl+Enter": "dispatch", Escape: "clear",
  },
  callbacks: { "Ctrl+Enter": "callback_reached", "Alt+KeyU": "callback_unreached" },
};

/** The callback form's answer keys: 1–3 satisfaction, 4–5 resolved. */
export const CALLBACK_FORM_KEYS = {
  form: {
    1: "cb-sat:satisfied", 2: "cb-sat:basically_satisfied", 3: "cb-sat:dissatisfied",
    4: "cb-res:true", 5: "cb-res:false",
  },
};
