// The map's bbox parameter: snapped outwards to a lattice so nearby views share one URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { boundsBox, snapBbox } from "../../web/static/js/lib/geo.js";

test("a view is rounded outwards to 0.02°", () => {
  assert.equal(snapBbox({ west: 114.613, south: 35.171, east: 114.781, north: 35.259 }),
    "114.60,35.16,114.80,35.26");
});

test("two slightly different views ask the same box", () => {
  const a = snapBbox({ west: 114.601, south: 35.161, east: 114.79, north: 35.25 });
  const b = snapBbox({ west: 114.615, south: 35.175, east: 114.785, north: 35.245 });
  assert.equal(a, b);
});

test("the box never leaves the world", () => {
  assert.equal(snapBbox({ west: -200, south: -95, east: 200, north: 95 }),
    "-180.00,-89.90,180.00,89.90");
});

test("Leaflet bounds become a plain box", () => {
  const bounds = { getWest: () => 1, getSouth: () => 2, getEast: () => 3, getNorth: () => 4 };
  assert.deepEqual(boundsBox(bounds), { west: 1, south: 2, east: 3, north: 4 });
});
