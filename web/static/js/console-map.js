/* The console's map: the project's own grid as the base map (streets at low zoom, communities,
 * then cells), an optional tile layer, and one marker per ticket coloured by status, clustered
 * when zoomed out. Works with no internet: nothing is fetched but this site's API.
 *
 * Area names and ticket texts reach the map only as DOM text (popups and tooltips get elements
 * built by el, never HTML strings). */
import { api, describe, geojson } from "./lib/api.js";
import { el } from "./lib/dom.js";
import { boundsBox, snapBbox } from "./lib/geo.js";
import { zh } from "./lib/page.js";
import { statusGroup } from "./lib/tickets.js";
import { toast } from "./lib/ui.js";
import { L } from "./lib/vendor.js";

// The server picks the level from the zoom (streets < 12, communities < 14, cells).
const GRID_URL = "/api/v1/grid/cells.geojson";
const AREA_STYLE = {
  street: { color: "#5c6bc0", weight: 2, fillColor: "#c5cae9", fillOpacity: 0.18 },
  community: { color: "#7986cb", weight: 1.2, fillColor: "#e8eaf6", fillOpacity: 0.15 },
  cell: { color: "#9fa8da", weight: 0.8, fillColor: "#f5f6fb", fillOpacity: 0.1 },
};
const UNCLUSTERED_ZOOM = 16; // markers stand alone from this zoom on

function markerIcon(t) {
  const classes = ["tmarker", "sg-" + statusGroup(t.status), "u-" + (t.urgency || "normal")];
  if (t.overdue) classes.push("overdue");
  if (t.supervised) classes.push("supervised");
  return L.divIcon({ className: classes.join(" "), html: "", iconSize: [16, 16] });
}

function popupContent(t, onSelect) {
  return el("div", { class: "map-popup" },
    el("div", {},
      el("strong", {}, t.number), " ",
      el("span", { class: "badge st-" + t.status }, zh("status", t.status)), " ",
      t.urgency !== "normal" ? el("span", { class: "badge " + t.urgency },
        zh("urgency", t.urgency)) : null),
    el("p", { class: "popup-text" }, t.text || ""),
    el("div", { class: "muted" },
      [t.street_name, t.community_name, t.cell_name].filter(Boolean).join(" · ")),
    el("button", { type: "button", class: "link-button", onclick: () => onSelect(t.number) },
      "查看详情"));
}

/**
 * Build the map in `node`. options.onSelect(number) opens a ticket.
 * Returns {sync(tickets), setTiles(url), focus(number), invalidate()}.
 */
export function create(node, options) {
  const onSelect = options.onSelect;
  const map = L.map(node, { zoomControl: true, preferCanvas: false, minZoom: 7, maxZoom: 19 });
  map.attributionControl.setPrefix(false);
  // Until the grid says where the county is: central 河南.
  map.setView([35.2, 114.7], 11);
  const areas = L.geoJSON(null, {
    style: (f) => AREA_STYLE[f.properties.level] || AREA_STYLE.cell,
    onEachFeature: (f, layer) => {
      layer.bindTooltip(el("span", {}, f.properties.name || f.properties.code),
        { sticky: true, direction: "top", className: "area-tip" });
    },
  }).addTo(map);
  const cluster = L.markerClusterGroup({
    showCoverageOnHover: false, maxClusterRadius: 45, disableClusteringAtZoom: UNCLUSTERED_ZOOM,
    chunkedLoading: true,
  });
  map.addLayer(cluster);
  const markers = new Map(); // number -> marker
  let tiles = null;
  let gridReady = false;
  let fetching = null;
  let lastUrl = "";
  let timer = null;

  async function loadGrid() {
    if (!gridReady) return;
    const zoom = map.getZoom();
    const url = `${GRID_URL}?bbox=${snapBbox(boundsBox(map.getBounds().pad(0.1)))}&zoom=${zoom}`;
    if (url === lastUrl) return;
    if (fetching) fetching.abort();
    const controller = new AbortController();
    fetching = controller;
    try {
      const data = await geojson(url, { signal: controller.signal });
      if (controller.signal.aborted) return;
      lastUrl = url;
      areas.clearLayers();
      areas.addData(data);
      areas.bringToBack();
      node.dataset.gridLevel = data.properties ? data.properties.level : "";
      node.dataset.gridFeatures = String((data.features || []).length);
    } catch (e) {
      if (e.name !== "AbortError") toast("网格底图加载失败：" + describe(e), "error");
    } finally {
      if (fetching === controller) fetching = null;
    }
  }

  function scheduleGrid() {
    clearTimeout(timer);
    timer = setTimeout(loadGrid, 200);
  }
  map.on("moveend", scheduleGrid);

  // Where the county is: the active grid version's extent (no version: no base map yet).
  api("GET", "/api/v1/grid/versions").then((data) => {
    const active = (data.items || []).find((v) => v.active);
    if (!active) {
      node.dataset.gridLevel = "none";
      return;
    }
    gridReady = true;
    if (active.bbox && active.bbox.length === 4) {
      const [w, s, e, n] = active.bbox;
      map.fitBounds([[s, w], [n, e]]);
    }
    scheduleGrid();
  }).catch((e) => toast("网格信息加载失败：" + describe(e), "error"));

  function place(t) {
    return typeof t.lat === "number" && typeof t.lon === "number";
  }

  function makeMarker(t) {
    const marker = L.marker([t.lat, t.lon], {
      icon: markerIcon(t), keyboard: true, title: t.number, riseOnHover: true,
    });
    marker.ticket = t;
    marker.bindPopup(() => popupContent(marker.ticket, onSelect), { maxWidth: 280 });
    marker.on("click", () => onSelect(marker.ticket.number));
    return marker;
  }

  /** Show exactly these tickets (those with a place); markers are reused across calls. */
  function sync(tickets) {
    const wanted = new Map();
    for (const t of tickets) if (place(t)) wanted.set(t.number, t);
    const gone = [];
    for (const [number, marker] of markers) {
      if (!wanted.has(number)) {
        gone.push(marker);
        markers.delete(number);
      }
    }
    if (gone.length) cluster.removeLayers(gone);
    const added = [];
    for (const [number, t] of wanted) {
      const marker = markers.get(number);
      if (!marker) {
        const m = makeMarker(t);
        markers.set(number, m);
        added.push(m);
      } else if (marker.ticket !== t) {
        const moved = marker.ticket.lat !== t.lat || marker.ticket.lon !== t.lon;
        marker.ticket = t;
        if (moved) {
          cluster.removeLayer(marker);
          marker.setLatLng([t.lat, t.lon]);
          added.push(marker);
        }
        marker.setIcon(markerIcon(t));
        if (marker.isPopupOpen()) marker.setPopupContent(popupContent(t, onSelect));
      }
    }
    if (added.length) cluster.addLayers(added);
    node.dataset.markers = String(markers.size);
  }

  function setTiles(url) {
    if (tiles || !url) return;
    tiles = L.tileLayer(url, { maxZoom: 19, attribution: "" });
    tiles.addTo(map);
    tiles.bringToBack();
  }

  /** Centre on a ticket's marker (zooming in past clustering if it is in a cluster) and
   * make it pulse. Not zoomToShowLayer: its callbacks fail when the live feed removes the
   * marker while the map is still moving. */
  function focus(number) {
    const marker = markers.get(number);
    if (!marker) return;
    const pulse = () => {
      const current = markers.get(number);
      const icon = current && current.getElement();
      if (icon) {
        icon.classList.add("focused");
        setTimeout(() => icon.classList.remove("focused"), 2500);
      }
    };
    map.once("moveend", pulse);
    if (cluster.getVisibleParent(marker) === marker) map.panTo(marker.getLatLng());
    else map.setView(marker.getLatLng(), Math.max(map.getZoom(), UNCLUSTERED_ZOOM));
  }

  function invalidate() {
    map.invalidateSize();
  }

  return { map, sync, setTiles, focus, invalidate };
}
