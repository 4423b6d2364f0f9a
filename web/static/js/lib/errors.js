/* The house error of the API (pure: node tests import it). The server answers every refusal as
 * {"error": {"code", "message", "field"}}; api.js turns it into an ApiError. */

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field || null;
  }

  /** What to show a user: the Chinese name of the error (`zh`: the page's translator), the
   * field by its Chinese name when the table has one (else its code), then the server's
   * detail. */
  describe(zh) {
    const head = zh ? zh("error", this.code) : this.code;
    if (!this.field) return `${head}：${this.message}`;
    const name = zh ? zh("field", this.field) : this.field;
    if (name === this.field) return `${head}（${this.field}）：${this.message}`;
    // "text: 不能为空" → 「诉求内容」不能为空 (the server names the field by its code first).
    const prefix = `${this.field}: `;
    const detail = this.message.startsWith(prefix) ? this.message.slice(prefix.length) : this.message;
    return `${head}：「${name}」${detail}`;
  }
}

/** What to tell a user about any failure: an ApiError described, anything else by its message. */
export function describeError(e, zh) {
  if (e instanceof ApiError) return e.describe(zh);
  // fetch's network failure speaks the browser's English ("Failed to fetch", "Load failed",
  // "NetworkError when attempting to fetch resource").
  if (e instanceof TypeError && /fetch|load failed|network/i.test(e.message || "")) {
    return "无法连接服务器，请检查网络后重试";
  }
  return String((e && e.message) || e);
}
