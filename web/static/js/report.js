/* /report: a citizen writes the demand, pins it on the county map (the grid's streets and
 * communities drawn with the vendored Leaflet, no tiles) or types an address, adds photos,
 * leaves a phone or stays anonymous, and gets the ticket number and pick-up code. */
import { photoProblem, reportProblem, trackHref } from "./lib/citizen.js";
import { el, fill } from "./lib/dom.js";
import { boot, call } from "./lib/public-api.js";
import { L } from "./lib/vendor.js";

const BOOT = boot();
const $ = (id) => document.getElementById(id);
const form = $("report-form");
const errorBox = $("report-error");
let marker = null;
let map = null;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
  if (message) errorBox.scrollIntoView({ block: "center" });
}

function placeText(place) {
  const names = [place.street, place.community].filter(Boolean).join(" ");
  if (!place.found) return "未能在本县范围内找到这个位置，请在地图上点选";
  return "已标出位置：" + (names || "本县范围内") + (place.outside ? "（靠近辖区边界）" : "");
}

function pin(lon, lat) {
  $("lon").value = lon.toFixed(6);
  $("lat").value = lat.toFixed(6);
  if (!map) return;
  if (marker) marker.setLatLng([lat, lon]);
  else marker = L.circleMarker([lat, lon], { radius: 9, color: "#c0392b", weight: 3,
    fillOpacity: 0.6 }).addTo(map);
}

async function describePin(lon, lat) {
  $("pin-status").textContent = "正在确认位置…";
  try {
    const place = await call("GET", `/api/v1/public/locate?lon=${lon}&lat=${lat}`);
    $("pin-status").textContent = placeText(place);
  } catch (e) {
    $("pin-status").textContent = e.message;
  }
}

async function findAddress() {
  const address = $("address").value.trim();
  if (!address) { showError("地址：请先填写地址"); return; }
  showError("");
  $("pin-status").textContent = "正在查找地址…";
  try {
    const place = await call("GET", "/api/v1/public/locate?address=" + encodeURIComponent(address));
    if (place.found && place.lon !== null) {
      pin(place.lon, place.lat);
      if (map) map.setView([place.lat, place.lon], 15);
    }
    $("pin-status").textContent = place.found ? placeText(place)
      : "没有找到这个地址，请在地图上点选位置（地址仍会随诉求提交）";
  } catch (e) {
    $("pin-status").textContent = e.message;
  }
}

async function drawMap() {
  if (!L) return;
  map = L.map("map", { zoomControl: true, minZoom: 8, maxZoom: 18, attributionControl: false });
  map.setView([35.2, 114.67], 11);
  map.on("click", (e) => { pin(e.latlng.lng, e.latlng.lat); describePin(e.latlng.lng, e.latlng.lat); });
  try {
    const shapes = await call("GET", "/api/v1/public/map.geojson");
    const layer = L.geoJSON(shapes, {
      style: (f) => (f.properties.level === "street"
        ? { color: "#1f5fa8", weight: 2, fillOpacity: 0.04 }
        : { color: "#7a9cc6", weight: 1, fillOpacity: 0, dashArray: "3" }),
      onEachFeature: (f, l) => l.bindTooltip(f.properties.name, { sticky: true }),
    }).addTo(map);
    layer.on("click", (e) => { pin(e.latlng.lng, e.latlng.lat); describePin(e.latlng.lng, e.latlng.lat); });
    const bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8] });
  } catch {
    $("pin-status").textContent = "地图暂时无法显示，请填写地址";
  }
}

function listPhotos() {
  const files = Array.from($("photos").files || []);
  const problem = photoProblem(files, BOOT.max_photos, BOOT.max_photo_bytes);
  fill($("photo-list"), ...files.map((f) => el("li", null,
    el("img", { src: URL.createObjectURL(f), alt: "待上传的照片：" + f.name }), f.name)));
  showError(problem || "");
  return problem;
}

function contactChanged() {
  const anonymous = $("contact-anonymous").checked;
  $("contact-fields").hidden = anonymous;
}

function showReceipt(answer) {
  form.hidden = true;
  $("receipt").hidden = false;
  $("receipt-number").textContent = answer.number;
  $("receipt-code").textContent = answer.code;
  $("receipt-notice").textContent = answer.notice;
  $("receipt-track").href = trackHref(answer.number);
  if (answer.advice) {
    $("advice").textContent = answer.advice;
    $("advice").hidden = false;
  }
  $("receipt").focus();
}

async function submit(event) {
  event.preventDefault();
  const anonymous = $("contact-anonymous").checked;
  const problem = reportProblem({ text: $("text").value, address: $("address").value,
    lon: $("lon").value, anonymous, phone: $("phone").value }) || listPhotos();
  if (problem) { showError(problem); return; }
  const data = new FormData();
  data.append("text", $("text").value.trim());
  for (const key of ["address", "lon", "lat"]) {
    if ($(key).value.trim()) data.append(key, $(key).value.trim());
  }
  if (anonymous) data.append("anonymous", "true");
  else {
    data.append("phone", $("phone").value.trim());
    if ($("name").value.trim()) data.append("name", $("name").value.trim());
    if (BOOT.sms) {
      data.append("sms_code", $("sms-code").value.trim());
      data.append("sms_token", $("sms-token").value);
    }
  }
  for (const f of Array.from($("photos").files || [])) data.append("photos", f, f.name);
  const button = $("submit");
  button.disabled = true;
  button.textContent = "正在提交…";
  try {
    showReceipt(await call("POST", "/api/v1/public/requests", data));
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
    button.textContent = "提交诉求";
  }
}

async function sendCode() {
  const phone = $("phone").value.trim();
  if (!phone) { showError("手机号：请先填写手机号"); return; }
  showError("");
  $("send-code").disabled = true;
  try {
    const answer = await call("POST", "/api/v1/public/phone-codes", { phone });
    $("sms-token").value = answer.token;
    $("sms-status").textContent = `验证码已发送，${Math.round(answer.expires_in / 60)} 分钟内有效`;
  } catch (e) {
    showError(e.message);
  } finally {
    $("send-code").disabled = false;
  }
}

form.addEventListener("submit", submit);
// The form is sent by this script only: its button waits for it (disabled in the page), since
// a submission before it would reload the page and lose what was written.
$("submit").disabled = false;
if (BOOT.sms) $("send-code").addEventListener("click", sendCode);
$("find-address").addEventListener("click", findAddress);
$("photos").addEventListener("change", listPhotos);
for (const radio of document.querySelectorAll('input[name="contact"]')) {
  radio.addEventListener("change", contactChanged);
}
drawMap();
