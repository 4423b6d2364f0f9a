/* What the admin pages share: a table paged by the server, a form's refusal shown beside the
 * field it names, and the spreadsheet import (a dry run with its row-by-row report, then the
 * all-or-nothing import). Every page reads and writes through /api/v1/admin/... (api.js). */
import { api, describe } from "./api.js";

/** Show a refusal in the form's alert (role="alert") and mark the field it names
 * (an input whose name or data-field is the error's field). */
export function showError(form, error) {
  const alert = form.querySelector('[role="alert"]');
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
  if (!error) {
    if (alert) { alert.textContent = ""; alert.hidden = true; }
    return;
  }
  if (alert) { alert.textContent = describe(error); alert.hidden = false; }
  const field = error.field;
  if (field) {
    const input = form.querySelector(`[name="${CSS.escape(field)}"], [data-field="${CSS.escape(field)}"]`);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }
}

/** The query string of a filter form (empty values left out), with the page number. */
export function queryOf(form, page) {
  const params = new URLSearchParams();
  if (form) {
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim() !== "") params.append(key, String(value).trim());
    }
  }
  if (page) params.set("page", String(page));
  return params.toString();
}

/** A table whose rows come a page at a time from the server.
 * options: url (the list endpoint), filters (a form or null), render(item) → <tr>,
 * pager (an element for 上一页/下一页 and "第 n / m 页，共 k 条"). The endpoint answers
 * {"items", "total", "page", "per_page"}. Returns { reload(page) }. */
export function pagedTable({ url, filters, body, render, pager }) {
  let page = 1;
  async function reload(to) {
    page = to || page;
    const query = queryOf(filters, page);
    const data = await api("GET", query ? `${url}?${query}` : url);
    body.replaceChildren(...data.items.map(render));
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    if (page > pages && data.total > 0) return reload(pages);
    if (pager) {
      pager.replaceChildren();
      const prev = Object.assign(document.createElement("button"), { type: "button", textContent: "上一页" });
      const next = Object.assign(document.createElement("button"), { type: "button", textContent: "下一页" });
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      prev.addEventListener("click", () => reload(page - 1));
      next.addEventListener("click", () => reload(page + 1));
      const where = Object.assign(document.createElement("span"), {
        className: "muted", textContent: `第 ${page} / ${pages} 页，共 ${data.total} 条` });
      where.dataset.testid = "pager-status";
      pager.append(prev, where, next);
    }
    return data;
  }
  if (filters) {
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      // A refused filter is shown at its field (the table keeps its last good page).
      reload(1).then(() => showError(filters, null), (e) => showError(filters, e));
    });
  }
  return { reload };
}

/** The spreadsheet import: choose a file, 预览 (dry run) shows how many rows are good and each
 * rejected row with its reason; 导入 sends it again for real, and only when nothing is rejected.
 * root holds: input[type=file], button[data-action=preview], button[data-action=commit],
 * [data-role=report]. onDone(report) runs after a committed import. */
export function importPanel(root, url, onDone) {
  const input = root.querySelector('input[type="file"]');
  const preview = root.querySelector('[data-action="preview"]');
  const commit = root.querySelector('[data-action="commit"]');
  const report = root.querySelector('[data-role="report"]');
  commit.disabled = true;

  function show(data, error) {
    report.replaceChildren();
    const line = document.createElement("p");
    if (error && !data) {
      line.className = "error";
      line.setAttribute("role", "alert");
      line.textContent = describe(error);
      report.append(line);
      return;
    }
    line.textContent = data.committed
      ? `已导入 ${data.accepted} 行。`
      : `共 ${data.rows} 行：可导入 ${data.accepted} 行，有问题 ${data.rejected.length} 行。`;
    report.append(line);
    if (data.rejected.length) {
      const table = document.createElement("table");
      table.className = "list";
      table.innerHTML = "<thead><tr><th scope=\"col\">行</th><th scope=\"col\">列</th><th scope=\"col\">原因</th></tr></thead>";
      const tbody = document.createElement("tbody");
      for (const r of data.rejected) {
        const tr = document.createElement("tr");
        for (const text of [r.row, r.field || "", r.message]) {
          const td = document.createElement("td");
          td.textContent = String(text);
          tr.append(td);
        }
        tbody.append(tr);
      }
      table.append(tbody);
      report.append(table);
    }
  }

  async function send(dryRun) {
    if (!input.files.length) {
      show(null, new Error("请先选择文件"));
      return null;
    }
    const form = new FormData();
    form.append("file", input.files[0]);
    try {
      const data = await api("POST", `${url}?dry_run=${dryRun ? "true" : "false"}`, form);
      show(data);
      return data;
    } catch (e) {
      show(e.report || null, e);
      return null;
    }
  }

  input.addEventListener("change", () => { commit.disabled = true; report.replaceChildren(); });
  preview.addEventListener("click", async () => {
    const data = await send(true);
    commit.disabled = !(data && data.rejected.length === 0 && data.accepted > 0);
  });
  commit.addEventListener("click", async () => {
    const data = await send(false);
    commit.disabled = true;
    if (data && data.committed && onDone) onDone(data);
  });
}

/** A form whose submit runs `action()`: the form's last refusal is cleared first, and one the
 * action throws is shown at its field (showError). */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(form, null);
    try {
      await action();
    } catch (e) {
      showError(form, e);
    }
  });
}
