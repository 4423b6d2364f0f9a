/* The dashboard's call tiles (DOMAIN.md "More metrics"): 15秒接通率 and 漏接回拨率 of the period,
 * from the call records (GET /api/v1/stats/calls). Calls have no street, channel or category:
 * the tiles follow the period only, and say so. */
import { api } from "./lib/api.js";
import { el } from "./lib/dom.js";
import { percent } from "./lib/format.js";

const TILES = [
  ["answer_15s_rate", "15秒接通率", "answered_15s", "entered_queue",
    "进入排队后 15 秒内接通的来电数 ÷ 进入排队的来电数"],
  ["missed_callback_rate", "漏接回拨率", "called_back_in_time", "missed_due",
    "在回拨时限内回拨接通的漏接来电数 ÷ 回拨时限落在统计期内的漏接来电数（白天 2 小时，夜间次日 10:00）"],
];

function tone(rate) {
  if (rate === null) return "";
  return rate >= 0.9 ? "tone-good" : rate < 0.7 ? "tone-bad" : "tone-warn";
}

/** The call tiles of a period (local days, both included), appended to `box`. */
export async function appendCallTiles(box, from, to) {
  const figures = await api("GET", `/api/v1/stats/calls?from=${from}&to=${to}`);
  for (const [metric, name, numerator, denominator, formula] of TILES) {
    const fig = figures[metric];
    box.append(el("div", { class: "tile " + tone(fig.rate), dataset: { metric, testid: "tile" } },
      el("div", { class: "tile-main", title: formula },
        el("span", { class: "tile-label" }, name),
        el("span", { class: "tile-value", dataset: { testid: "tile-value" } }, percent(fig.rate))),
      el("div", { class: "tile-counts muted", title: "来电不分街道、渠道与分类：只按统计期" },
        `${fig[numerator]} / ${fig[denominator]}（全部来电）`)));
  }
}
