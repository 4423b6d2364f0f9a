/* Map arithmetic shared by the console's and the dashboard's maps (pure: node tests import it). */

/** A view's bounds ({west, south, east, north}, degrees) rounded outwards to a 0.02° lattice and
 * clamped to the world, as the "bbox" parameter of grid/cells.geojson: the same view asks the
 * same URL, so the browser's cache answers it. */
export function snapBbox({ west, south, east, north }) {
  const step = 0.02;
  const down = (v) => (Math.floor(v / step) * step).toFixed(2);
  const up = (v) => (Math.ceil(v / step) * step).toFixed(2);
  return [down(Math.max(-180, west)), down(Math.max(-89.9, south)),
    up(Math.min(180, east)), up(Math.min(89.9, north))].join(",");
}

/** A Leaflet LatLngBounds as the plain box snapBbox takes. */
export function boundsBox(bounds) {
  return { west: bounds.getWest(), south: bounds.getSouth(), east: bounds.getEast(),
    north: bounds.getNorth() };
}
