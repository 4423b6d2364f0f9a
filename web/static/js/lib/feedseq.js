/* The console feed's sequence numbers (CONTRACT.md, "Live console"): which events the page
 * holds and which are missing. `seq` grows by one per event on the server; a viewer who may
 * not see every ticket gets only some of them, so a hole is either a lost event or one that
 * is not ours, and only a `resume` can tell: the server replays what we may see after
 * `after_seq`, then answers `resumed {seq}`, after which every seq up to that head is settled.
 *
 * The tracker keeps the settled floor (every seq ≤ floor is held, or not ours) and the seqs
 * held above it. A seq at or below the floor, or held already, is a duplicate. */

/** A tracker whose floor is `floor` (the board's seq: everything up to it is on the board). */
export function createTracker(floor = 0) {
  return { floor: whole(floor), above: new Set() };
}

function whole(n) {
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function advance(tracker) {
  while (tracker.above.has(tracker.floor + 1)) {
    tracker.above.delete(tracker.floor + 1);
    tracker.floor += 1;
  }
}

/** Take one event's seq: true when it is new (apply it), false for a duplicate or no seq. */
export function accept(tracker, seq) {
  if (!Number.isInteger(seq) || seq <= 0) return false;
  if (seq <= tracker.floor || tracker.above.has(seq)) return false;
  tracker.above.add(seq);
  advance(tracker);
  return true;
}

/** Every seq up to `head` is settled (a `resumed` answer, a board read): the floor moves up. */
export function settle(tracker, head) {
  const top = whole(head);
  if (top <= tracker.floor) return;
  tracker.floor = top;
  for (const seq of tracker.above) if (seq <= top) tracker.above.delete(seq);
  advance(tracker);
}

/** The lowest missing seq, or null when nothing below a held seq is missing. */
export function lowestMissing(tracker) {
  return tracker.above.size ? tracker.floor + 1 : null;
}

/** What `resume` asks after: the lowest missing seq − 1 (the floor), holes or not. */
export function resumeAfter(tracker) {
  return tracker.floor;
}

/** The highest seq held or settled. */
export function highest(tracker) {
  let top = tracker.floor;
  for (const seq of tracker.above) if (seq > top) top = seq;
  return top;
}

/** Start over from `floor` (the board read afresh after a `reset`). */
export function reset(tracker, floor = 0) {
  tracker.floor = whole(floor);
  tracker.above.clear();
}

/** Where an event of `seq` goes in a list kept newest first (items' seqs, top to bottom): the
 * index of the first item with a lower seq (the list's length when none is lower). */
export function insertionIndex(seqsNewestFirst, seq) {
  const i = seqsNewestFirst.findIndex((s) => s < seq);
  return i === -1 ? seqsNewestFirst.length : i;
}
