// The console feed's seqs: holes found and filled from the lowest missing one, duplicates
// dropped, the feed list kept in seq order.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  accept, createTracker, highest, insertionIndex, lowestMissing, reset, resumeAfter, settle,
} from "../../web/static/js/lib/feedseq.js";

test("events in order move the floor and leave no hole", () => {
  const t = createTracker(40);
  assert.equal(accept(t, 41), true);
  assert.equal(accept(t, 42), true);
  assert.equal(t.floor, 42);
  assert.equal(lowestMissing(t), null);
  assert.equal(resumeAfter(t), 42);
});

test("a hole (41 held, 43 arrives) asks a resume after 41, i.e. from the lowest missing 42", () => {
  const t = createTracker(40);
  accept(t, 41);
  assert.equal(accept(t, 43), true);
  assert.equal(lowestMissing(t), 42);
  assert.equal(resumeAfter(t), 41);
  assert.equal(highest(t), 43);
  accept(t, 45); // a second hole: the resume still starts at the lowest one
  assert.equal(resumeAfter(t), 41);
  // the replay fills 42 (43 again is a duplicate): the floor runs up to 43, 44 still missing
  assert.equal(accept(t, 42), true);
  assert.equal(accept(t, 43), false);
  assert.equal(t.floor, 43);
  assert.equal(lowestMissing(t), 44);
  assert.equal(accept(t, 44), true);
  assert.equal(t.floor, 45);
  assert.equal(lowestMissing(t), null);
});

test("duplicates are dropped: held above the floor, at or below it, or no seq at all", () => {
  const t = createTracker(10);
  assert.equal(accept(t, 10), false);
  assert.equal(accept(t, 3), false);
  assert.equal(accept(t, 12), true);
  assert.equal(accept(t, 12), false);
  assert.equal(accept(t, undefined), false);
  assert.equal(accept(t, "13"), false);
  assert.equal(accept(t, 1.5), false);
  assert.deepEqual([...t.above], [12]);
});

test("a resume's answer settles every seq up to its head (the rest were not ours)", () => {
  const t = createTracker(0);
  accept(t, 2);
  accept(t, 5);
  accept(t, 9);
  settle(t, 6); // 1, 3, 4, 6 belong to tickets this viewer may not see
  assert.equal(t.floor, 6);
  assert.deepEqual([...t.above], [9]);
  assert.equal(lowestMissing(t), 7);
  settle(t, 8); // the floor then runs through the held 9
  assert.equal(t.floor, 9);
  assert.equal(lowestMissing(t), null);
  settle(t, 4); // an older answer never moves the floor down
  assert.equal(t.floor, 9);
  assert.equal(accept(t, 7), false);
});

test("reset starts over from the board's seq", () => {
  const t = createTracker(50);
  accept(t, 52);
  reset(t, 20);
  assert.equal(t.floor, 20);
  assert.equal(lowestMissing(t), null);
  assert.equal(accept(t, 21), true);
  reset(t, -3);
  assert.equal(t.floor, 0);
});

test("a late event goes below the newer ones in a list kept newest first", () => {
  assert.equal(insertionIndex([45, 43, 41], 44), 1);
  assert.equal(insertionIndex([45, 43, 41], 42), 2);
  assert.equal(insertionIndex([45, 43, 41], 46), 0);
  assert.equal(insertionIndex([45, 43, 41], 40), 3);
  assert.equal(insertionIndex([], 7), 0);
});

test("a long run out of order ends with every seq once and no hole", () => {
  const t = createTracker(0);
  const order = [3, 1, 2, 2, 7, 5, 6, 4, 1, 8, 10, 9, 10];
  const applied = order.filter((s) => accept(t, s));
  assert.deepEqual([...applied].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(applied.length, 10);
  assert.equal(t.floor, 10);
  assert.equal(lowestMissing(t), null);
});
