// The softphone's pure helpers (web/static/js/softphone.js): labels, buttons per call phase,
// the caller's number, Chinese errors, transfer targets and the JsSIP configuration.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CALL_FORM_FIELDS, CALL_LABELS, LINE_LABELS, callError, callerNumber, controls, duration,
  fixAnswerSetup, formIsEmpty, registrationError, transferTarget, uaConfig,
} from "../../web/static/js/softphone.js";

test("importing the softphone touches no page and loads no SIP library", () => {
  assert.equal(typeof globalThis.document, "undefined");
  assert.equal(LINE_LABELS.connecting, "注册中");
  assert.equal(LINE_LABELS.registered, "已注册");
  assert.equal(LINE_LABELS.failed, "注册失败");
  assert.deepEqual(
    [CALL_LABELS.ringing, CALL_LABELS.incall, CALL_LABELS.held, CALL_LABELS.ended,
      CALL_LABELS.transferred],
    ["来电", "通话中", "保持", "已挂断", "已转接"]);
});

test("a ringing call can only be answered or hung up", () => {
  assert.deepEqual(controls("ringing"),
    { answer: true, hangup: true, hold: false, holdLabel: "保持", transfer: false });
});

test("a call in progress can be held, hung up and transferred; a held one resumed", () => {
  assert.deepEqual(controls("incall"),
    { answer: false, hangup: true, hold: true, holdLabel: "保持", transfer: true });
  assert.deepEqual(controls("held"),
    { answer: false, hangup: true, hold: true, holdLabel: "恢复", transfer: true });
});

test("no call, or a call over, allows nothing", () => {
  for (const phase of ["idle", "ended", "missed", "transferred"]) {
    assert.deepEqual(controls(phase),
      { answer: false, hangup: false, hold: false, holdLabel: "保持", transfer: false }, phase);
  }
  assert.equal(controls("transferring").hangup, true);
  assert.equal(controls("transferring").transfer, false);
});

test("the caller is the phone number of the SIP user, else of the display name", () => {
  assert.equal(callerNumber("13800138000", "张三"), "13800138000");
  assert.equal(callerNumber("+8613800138000", null), "13800138000");
  assert.equal(callerNumber("anonymous", "0373-8888888"), "03738888888");
  assert.equal(callerNumber("8002", "话务员二"), "8002"); // an extension: shown, not a phone
  assert.equal(callerNumber("", ""), "未知号码");
});

test("registration failures are said in Chinese, with the SIP status when there is one", () => {
  assert.match(registrationError("Authentication Error"), /^注册失败：分机号或密码错误/);
  assert.equal(registrationError("Connection Error"), "注册失败：无法连接 SIP 服务器，正在重试");
  assert.equal(registrationError("SIP Failure Code", 403), "注册失败：SIP 服务器拒绝了本分机（403）");
  assert.equal(registrationError("Request Timeout"), "注册失败：SIP 服务器无应答");
  assert.equal(registrationError("SIP Failure Code", 500), "注册失败：SIP 服务器答复 500");
  assert.equal(registrationError("Something New", 488), "注册失败：Something New（488）");
});

test("a denied microphone is named; an ordinary hang-up is no error", () => {
  assert.match(callError("User Denied Media Access"), /麦克风被拒绝/);
  assert.match(callError("Incompatible SDP"), /媒体协商失败/);
  assert.match(callError("RTP Timeout"), /对方无响应/);
  assert.equal(callError("Terminated"), null);
  assert.equal(callError("Canceled"), null);
});

test("a transfer goes to digits at the centre's SIP domain; anything else names the field", () => {
  assert.deepEqual(transferTarget(" 110 ", "sip.example"), { uri: "sip:110@sip.example", number: "110" });
  assert.deepEqual(transferTarget("0373-12345", "pbx"), { uri: "sip:037312345@pbx", number: "037312345" });
  assert.deepEqual(transferTarget("", "pbx"), { error: "转接号码：不能为空（如 110）" });
  assert.deepEqual(transferTarget("一一零", "pbx"), { error: "转接号码：只能是数字（如 110）" });
  assert.deepEqual(transferTarget("110@evil.example", "pbx"),
    { error: "转接号码：只能是数字（如 110）" });
  assert.ok(transferTarget("1".repeat(21), "pbx").error);
});

test("the JsSIP configuration carries credentials only when the server gave some", () => {
  const base = { uri: "sip:8001@pbx", display_name: "话务员一", ws_url: "wss://pbx/ws" };
  const open = uaConfig(base);
  assert.equal(open.uri, "sip:8001@pbx");
  assert.equal(open.register, true);
  assert.equal("password" in open, false);
  assert.equal("authorization_user" in open, false);
  const auth = uaConfig({ ...base, authorization_user: "1765000000:8001", password: "c2VjcmV0" });
  assert.equal(auth.authorization_user, "1765000000:8001");
  assert.equal(auth.password, "c2VjcmV0");
});

test("a call's duration reads m:ss, h:mm:ss past the hour", () => {
  assert.equal(duration(0), "0:00");
  assert.equal(duration(65.9), "1:05");
  assert.equal(duration(3725), "1:02:05");
  assert.equal(duration(-3), "0:00");
});

test("an answer that says actpass (not allowed in an answer) is read as passive", () => {
  const answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\na=sendrecv\r\n";
  assert.equal(fixAnswerSetup(answer),
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:passive\r\na=sendrecv\r\n");
  const good = "v=0\na=setup:active\na=x-note:setup:actpass\n";
  assert.equal(fixAnswerSetup(good), good);
});

test("the caller fills the form only when no call is being logged in it", () => {
  assert.deepEqual(CALL_FORM_FIELDS, ["phone", "name", "text", "address", "answer"]);
  assert.equal(formIsEmpty(["", "", "  ", undefined, null]), true);
  assert.equal(formIsEmpty(["", "", "路灯不亮", "", ""]), false);
  assert.equal(formIsEmpty(["13900001111", "", "", "", ""]), false);
});
