// Phone numbers on the pages: what the operator typed, and how a masked number is shown.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  citizenText, isMasked, normalizePhone, phoneView,
} from "../../web/static/js/lib/phones.js";

test("a mobile number is kept as its 11 digits, separators and +86 dropped", () => {
  assert.equal(normalizePhone("138 0013 8000"), "13800138000");
  assert.equal(normalizePhone("+86 138-0013-8000"), "13800138000");
  assert.equal(normalizePhone("0086(138)00138000"), "13800138000");
});

test("a landline keeps its area code", () => {
  assert.equal(normalizePhone("0373-8888888"), "03738888888");
  assert.equal(normalizePhone("010 12345678"), "01012345678");
});

test("an unfinished or impossible number is not sent yet", () => {
  assert.equal(normalizePhone("1380013"), null);
  assert.equal(normalizePhone("12800138000"), null); // no mobile network starts 12
  assert.equal(normalizePhone("138001380001"), null);
  assert.equal(normalizePhone(""), null);
  assert.equal(normalizePhone(null), null);
});

test("a masked number is shown as the API gave it, with nothing to call", () => {
  assert.equal(isMasked("138****8000"), true);
  assert.deepEqual(phoneView("138****8000"), { text: "138****8000", href: null });
});

test("a real number is shown with a tel: link to call it", () => {
  assert.equal(isMasked("13800138000"), false);
  assert.deepEqual(phoneView("13800138000"), { text: "13800138000", href: "tel:13800138000" });
  assert.equal(phoneView("+86 138-0013-8000").href, "tel:+8613800138000");
});

test("no number: nothing to show", () => {
  assert.equal(phoneView(""), null);
  assert.equal(phoneView(null), null);
});

test("the citizen in one line: hidden, anonymous, confidential, or name and phone", () => {
  assert.equal(citizenText({ hidden: true, name: "张三", phone: "13800138000" }), "（保密）");
  assert.equal(citizenText({ anonymous: true, phone: "138****8000" }), "匿名 138****8000");
  assert.equal(citizenText({ name: "张*", phone: "138****8000", confidential: true }),
    "张* 138****8000 保密");
  assert.equal(citizenText({}), "—");
  assert.equal(citizenText(null), "");
});
