/* The vendored libraries that are not ES modules (web/static/vendor), read in this one place
 * from the globals they define. Their classic <script> tags come before the page's module, so
 * they have run when this module is evaluated; a page that does not load one gets undefined. */

/** Leaflet (with the markercluster plugin where the console loads it). */
export const L = globalThis.L;
/** ECharts (the dashboard). */
export const echarts = globalThis.echarts;
/** The Socket.IO client (the console). */
export const io = globalThis.io;
