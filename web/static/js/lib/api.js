/* The API client: JSON in and out, the CSRF token on every state-changing request, refusals as
 * ApiError (the house error shape), a signed-out user sent to the login page. */
import { ApiError, describeError } from "./errors.js";
import { csrfToken, zh } from "./page.js";

export { ApiError };

// A navigation under way (a form sent, e.g. 退出): the requests it leaves in flight may come
// back 401 (a logout ends the session at once) and must not redirect over it.
let leaving = false;
window.addEventListener("beforeunload", () => { leaving = true; });

async function send(url, init) {
  const response = await fetch(url, { credentials: "same-origin", ...init });
  if (response.status === 401) {
    if (!leaving) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
    throw new ApiError(401, "unauthorized", "请先登录");
  }
  return response;
}

function refusal(response, data) {
  const e = (data && data.error) || {};
  const error = new ApiError(response.status, e.code || "error", e.message ||
    response.statusText || `HTTP ${response.status}`, e.field);
  if (data && data.report) error.report = data.report; // an import's rows, when it was refused
  return error;
}

/** Call the API; resolves to the answer's JSON (null for an answer that is not JSON).
 * options.signal aborts it; options.accept replaces the Accept header. */
export async function api(method, url, body, options) {
  const headers = { Accept: (options && options.accept) || "application/json" };
  const init = { method, headers };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined && body !== null) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (options && options.signal) init.signal = options.signal;
  const response = await send(url, init);
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null; // also geo+json
  if (!response.ok) throw refusal(response, data);
  return data;
}

/** GET a GeoJSON document (grid/cells.geojson, served as application/geo+json). */
export function geojson(url, options) {
  return api("GET", url, null, { ...options, accept: "application/geo+json, application/json" });
}

/** What to tell a user about a failure, in Chinese (the error's name, then the detail). */
export function describe(e) {
  return describeError(e, zh);
}
