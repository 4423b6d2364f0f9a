// The shared modules node can load: importing them touches no document or window (only
// page.js, api.js, ui.js, socket.js and admin.js read the page, and only page scripts import
// them).
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { test } from "node:test";

const LIB = new URL("../../web/static/js/lib/", import.meta.url);
const READS_THE_PAGE = new Set(["page.js", "api.js", "ui.js", "socket.js", "admin.js"]);

test("every shared module but the page readers imports without a DOM", async () => {
  const names = (await readdir(LIB)).filter((n) => n.endsWith(".js"));
  assert.ok(names.length >= 10);
  for (const name of names.filter((n) => !READS_THE_PAGE.has(n))) {
    await assert.doesNotReject(import(new URL(name, LIB).href), name);
  }
  assert.equal(typeof globalThis.document, "undefined");
});

test("no page script hangs shared code on window", async () => {
  const root = new URL("../../web/static/js/", import.meta.url);
  const files = (await readdir(root, { recursive: true })).filter((n) => n.endsWith(".js"));
  for (const name of files) {
    const text = await readFile(new URL(name, root), "utf8");
    assert.doesNotMatch(text, /window\.[A-Z]\w*\s*=/, name);
    assert.doesNotMatch(text, /^\(function \(\) \{/m, `${name} is still a classic script`);
  }
});

test("templates load page scripts as modules, vendored libraries as classic scripts", async () => {
  const templates = new URL("../../web/templates/", import.meta.url);
  let modules = 0;
  for (const name of (await readdir(templates)).filter((n) => n.endsWith(".html"))) {
    const html = await readFile(new URL(name, templates), "utf8");
    for (const tag of html.match(/<script\b[^>]*\bsrc=[^>]*>/g) || []) {
      if (tag.includes("filename='js/")) {
        assert.match(tag, /type="module"/, `${name}: ${tag}`);
        modules += 1;
      } else {
        assert.match(tag, /filename='vendor\//, `${name}: ${tag}`);
        assert.doesNotMatch(tag, /type="module"/, `${name}: ${tag}`);
      }
    }
  }
  assert.ok(modules >= 5, "one page module per page with scripts");
});
