// The pages' alert tone: its notes, the gap between tones, and the count a page keeps.
import assert from "node:assert/strict";
import { test } from "node:test";

import { GAP_MS, MAX_BEEPS, due, ring, tones } from "../../web/static/js/lib/sound.js";

test("a tone of n beeps alternates 880 and 660 Hz, one every 0.28 s", () => {
  assert.deepEqual(tones(1), [{ at: 0, freq: 880, length: 0.22 }]);
  assert.deepEqual(tones(2), [{ at: 0, freq: 880, length: 0.22 },
    { at: 0.28, freq: 660, length: 0.22 }]);
  assert.deepEqual(tones(3).map((n) => n.freq), [880, 660, 880]);
  // Nonsense asks for one beep; too many are capped.
  for (const bad of [undefined, 0, -2, "x", NaN]) assert.equal(tones(bad).length, 1, String(bad));
  assert.equal(tones(50).length, MAX_BEEPS);
});

test("no two tones closer than the gap", () => {
  assert.equal(due(0, 1000), true); // never sounded
  assert.equal(due(10000, 10000 + GAP_MS - 1), false);
  assert.equal(due(10000, 10000 + GAP_MS), true);
  assert.equal(due(10000, 10500, 400), true);
});

test("a page counts every alert, and only the heard ones as beeps", () => {
  // Node has no Web Audio: the alert is counted, nothing sounds.
  const node = { dataset: {} };
  assert.equal(ring(node, 2), false);
  assert.equal(ring(node, 1, false), false);
  assert.deepEqual(node.dataset, { alerts: "2" });
  assert.equal(ring(null, 1), false); // no node: nothing to count
});

test("with Web Audio, a ring sounds its beeps once per gap", () => {
  const started = [];
  class FakeContext {
    constructor() {
      this.state = "running";
      this.currentTime = 5;
      this.destination = {};
    }
    createOscillator() {
      return { frequency: { setValueAtTime: (f, t) => started.push([f, t]) },
        connect: (g) => g, start() {}, stop() {} };
    }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} },
        connect: (d) => d };
    }
  }
  globalThis.AudioContext = FakeContext;
  try {
    const node = { dataset: {} };
    assert.equal(ring(node, 2), true);
    assert.deepEqual(started, [[880, 5], [660, 5.28]]);
    assert.equal(ring(node, 2), false); // within the gap: counted, not sounded again
    assert.deepEqual(node.dataset, { alerts: "2", beeps: "1" });
  } finally {
    delete globalThis.AudioContext;
  }
});
