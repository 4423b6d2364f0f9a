/* The short tone a page sounds when something arrives that a person must see to: the console's
 * alarm (an urgent ticket, a transfer to 110), the department's new dispatch, the 110 desk's
 * new transfer. Made by the Web Audio API (no sound file). Importing it touches no page: the
 * audio context is made on the first tone (node tests import tones, due and ring). */

/** No two tones closer than this (a burst of events sounds once). */
export const GAP_MS = 1500;
/** At most this many beeps in one tone. */
export const MAX_BEEPS = 4;

/** The notes of a tone of `times` beeps: alternately 880 and 660 Hz, 0.22 s each, one every
 * 0.28 s (seconds from the start). */
export function tones(times) {
  const n = Math.min(Math.max(Math.floor(Number(times)) || 1, 1), MAX_BEEPS);
  return Array.from({ length: n }, (_, i) => ({
    at: Number((i * 0.28).toFixed(2)), freq: i % 2 ? 660 : 880, length: 0.22,
  }));
}

/** Whether a tone may sound at `nowMs` when the last sounded at `lastMs` (0: never). */
export function due(lastMs, nowMs, gap = GAP_MS) {
  return !lastMs || nowMs - lastMs >= gap;
}

let audio = null;
let last = 0;

/** The page's audio context, made (or resumed) on demand; null without Web Audio. Browsers
 * start audio only after a gesture: a page may call this from a click to allow later tones. */
export function audioContext() {
  const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!Ctx) return null;
  audio = audio || new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Sound a tone of `times` beeps now, unless one sounded in the last GAP_MS; whether it did. */
export function beep(times) {
  const at = Date.now();
  if (!due(last, at)) return false;
  try {
    const ctx = audioContext();
    if (!ctx) return false;
    last = at;
    for (const note of tones(times)) {
      const t0 = ctx.currentTime + note.at;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(note.freq, t0);
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + note.length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + note.length + 0.03);
    }
    return true;
  } catch {
    return false; // no audio device: the page's badge and highlight still tell
  }
}

/**
 * A page's alert: counted on `node` (data-alerts: every alert raised, heard or not; data-beeps:
 * those that sounded), then sounded unless `enabled` is false (the console's 提示音：关).
 * Returns whether it sounded.
 */
export function ring(node, times, enabled = true) {
  const data = node && node.dataset;
  if (data) data.alerts = String(Number(data.alerts || 0) + 1);
  if (enabled === false || !beep(times)) return false;
  if (data) data.beeps = String(Number(data.beeps || 0) + 1);
  return true;
}
