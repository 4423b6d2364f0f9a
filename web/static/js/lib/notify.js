/* Telling a user something arrived while they looked elsewhere (pure: node tests import it):
 * which numbers are new in a list, and the page title with a count badge. */

/** The numbers of `after` that `before` (a Set, or null on the first read) did not have; none
 * on the first read (what was there on load is not news). */
export function arrivals(before, after) {
  if (!before) return [];
  return after.filter((n) => !before.has(n));
}

/** The page title with the count of unseen arrivals in front: "(2) 部门工作台 · …". */
export function badgeTitle(base, count) {
  return count > 0 ? `(${count}) ${base}` : base;
}
