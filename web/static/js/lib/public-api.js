/* The citizens' pages talk to /api/v1/public: JSON answers, refusals as Errors carrying the
 * house error's Chinese message (no login page to send anyone to). Touches `document` only
 * when called. */

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** The boot data of the page (a JSON island), or {}. */
export function boot() {
  const node = document.getElementById("boot");
  return node ? JSON.parse(node.textContent) : {};
}

/** Call the public API; resolves to the JSON answer, rejects with an Error whose message is
 * what the citizen should read (and .status, .field, .retryAfter). */
export async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined && body !== null) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw Object.assign(new Error("网络连接失败，请检查网络后重试"), { status: 0 });
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const e = (data && data.error) || {};
    const message = e.message || (response.status === 413 ? "上传的内容过大，请减少或压缩照片"
      : `请求未成功（${response.status}），请稍后重试`);
    throw Object.assign(new Error(message), {
      status: response.status, field: e.field,
      retryAfter: Number(response.headers.get("Retry-After")) || null,
    });
  }
  return data;
}
