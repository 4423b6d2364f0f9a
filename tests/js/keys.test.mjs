// Keyboard maps: what a key press means on the operator's screen, by pane.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  arrowStep, CALLBACK_FORM_KEYS, chord, INTAKE_KEYS, resolveKey,
} from "../../web/static/js/lib/keys.js";

/** A keydown as the browser gives it. */
function key(keyValue, code, mods = {}) {
  return { key: keyValue, code, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false,
    isComposing: false, ...mods };
}

test("chords name modifiers in a fixed order, ⌘ as Ctrl", () => {
  assert.equal(chord(key("Enter", "Enter", { ctrlKey: true })), "Ctrl+Enter");
  assert.equal(chord(key("Enter", "Enter", { metaKey: true })), "Ctrl+Enter");
  assert.equal(chord(key("N", "KeyN", { altKey: true, shiftKey: true, ctrlKey: true })),
    "Ctrl+Alt+Shift+KeyN");
});

test("with Alt, letters and digits are named by the physical key (a Mac's Alt+1 types ¡)", () => {
  assert.equal(chord(key("¡", "Digit1", { altKey: true })), "Alt+Digit1");
  assert.equal(chord(key("˜", "KeyN", { altKey: true })), "Alt+KeyN");
});

test("without a modifier a key is named by what it types (top row and keypad alike)", () => {
  assert.equal(chord(key("1", "Digit1")), "1");
  assert.equal(chord(key("1", "Numpad1")), "1");
  assert.equal(chord(key("Escape", "Escape")), "Escape");
});

test("on the call, Alt+1…9 picks the knowledge-base answer of that rank", () => {
  assert.deepEqual(resolveKey(INTAKE_KEYS, key("¡", "Digit1", { altKey: true }), "call"),
    { action: "article", arg: "1" });
  assert.deepEqual(resolveKey(INTAKE_KEYS, key("9", "Digit9", { altKey: true }), "call"),
    { action: "article", arg: "9" });
  assert.equal(resolveKey(INTAKE_KEYS, key("0", "Digit0", { altKey: true }), "call"), null);
});

test("Ctrl+Enter logs the call on the call pane and records the callback in the queue", () => {
  const ctrlEnter = key("Enter", "Enter", { ctrlKey: true });
  assert.equal(resolveKey(INTAKE_KEYS, ctrlEnter, "call").action, "dispatch");
  assert.equal(resolveKey(INTAKE_KEYS, ctrlEnter, "callbacks").action, "callback_reached");
  assert.equal(resolveKey(INTAKE_KEYS, key("Enter", "Enter"), "call"), null);
});

test("Alt+N and Alt+Q work from either pane; call keys do not work in the queue", () => {
  for (const pane of ["call", "callbacks"]) {
    assert.equal(resolveKey(INTAKE_KEYS, key("n", "KeyN", { altKey: true }), pane).action,
      "new_call");
    assert.equal(resolveKey(INTAKE_KEYS, key("q", "KeyQ", { altKey: true }), pane).action,
      "callbacks");
  }
  assert.equal(resolveKey(INTAKE_KEYS, key("r", "KeyR", { altKey: true }), "callbacks"), null);
  assert.equal(resolveKey(INTAKE_KEYS, key("u", "KeyU", { altKey: true }), "call"), null);
  assert.equal(resolveKey(INTAKE_KEYS, key("u", "KeyU", { altKey: true }), "callbacks").action,
    "callback_unreached");
});

test("a held Shift makes another chord: Alt+Shift+R is not Alt+R", () => {
  assert.equal(resolveKey(INTAKE_KEYS, key("R", "KeyR", { altKey: true, shiftKey: true }), "call"),
    null);
  assert.equal(resolveKey(INTAKE_KEYS, key("r", "KeyR", { altKey: true }), "call").action,
    "answer");
});

test("keys typed while an input method composes Chinese mean nothing to the page", () => {
  const composing = key("Enter", "Enter", { ctrlKey: true, isComposing: true });
  assert.equal(resolveKey(INTAKE_KEYS, composing, "call"), null);
});

test("the callback form's digits answer satisfaction (1–3) and resolution (4–5)", () => {
  assert.deepEqual(resolveKey(CALLBACK_FORM_KEYS, key("2", "Digit2"), "form"),
    { action: "cb-sat", arg: "basically_satisfied" });
  assert.deepEqual(resolveKey(CALLBACK_FORM_KEYS, key("5", "Numpad5"), "form"),
    { action: "cb-res", arg: "false" });
  assert.equal(resolveKey(CALLBACK_FORM_KEYS, key("6", "Digit6"), "form"), null);
  assert.equal(resolveKey(CALLBACK_FORM_KEYS, key("1", "Digit1", { ctrlKey: true }), "form"),
    null);
});

test("arrow keys move along a row of tabs and wrap around", () => {
  assert.equal(arrowStep("ArrowRight", 0, 4), 1);
  assert.equal(arrowStep("ArrowRight", 3, 4), 0);
  assert.equal(arrowStep("ArrowLeft", 0, 4), 3);
  assert.equal(arrowStep("ArrowDown", 1, 4), null);
});

test("on the call, Alt+K goes to the knowledge-base search, Alt+M to the map, Alt+T to the phrases", () => {
  assert.deepEqual(resolveKey(INTAKE_KEYS, key("k", "KeyK", { altKey: true }), "call"),
    { action: "kb_search", arg: null });
  assert.deepEqual(resolveKey(INTAKE_KEYS, key("µ", "KeyM", { altKey: true }), "call"),
    { action: "map", arg: null });
  assert.deepEqual(resolveKey(INTAKE_KEYS, key("†", "KeyT", { altKey: true }), "call"),
    { action: "phrases", arg: null });
  assert.equal(resolveKey(INTAKE_KEYS, key("k", "KeyK", { altKey: true }), "callbacks"), null);
});
