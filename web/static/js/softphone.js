/* The softphone of the intake page (软电话): JsSIP (vendored, web/static/vendor/jssip-3.13.8)
 * registers the operator's extension to the centre's SIP server over WebSocket; an incoming call
 * rings in the panel with the caller's number, fills the phone field of the call form (the page
 * then looks up the caller's history as if typed) and can be answered, held, hung up or
 * transferred (blind, e.g. to 110). Off unless the server sent settings (boot.softphone, from
 * HOTLINE_SIP_WS_URL; web/pages/softphone.py).
 *
 * The pure helpers are exported for the node tests (tests/js/softphone.test.mjs); the page part
 * runs only in a document, and JsSIP is imported only when the softphone is on. */
import { normalizePhone } from "./lib/phones.js";

const JSSIP_MODULE = "../vendor/jssip-3.13.8/jssip.min.js";

/** The registration's labels (the badge). */
export const LINE_LABELS = {
  off: "未启用", unconfigured: "未注册", connecting: "注册中", registered: "已注册",
  unregistered: "未注册", failed: "注册失败",
};
/** The call's labels (the panel's phase). */
export const CALL_LABELS = {
  idle: "", ringing: "来电", answering: "接听中", incall: "通话中", held: "保持",
  transferring: "转接中", transferred: "已转接", ended: "已挂断", missed: "未接来电",
};

/** Which buttons a call in `phase` allows. */
export function controls(phase) {
  return {
    answer: phase === "ringing",
    hangup: ["ringing", "answering", "incall", "held", "transferring"].includes(phase),
    hold: phase === "incall" || phase === "held",
    holdLabel: phase === "held" ? "恢复" : "保持",
    transfer: phase === "incall" || phase === "held",
  };
}

/** The caller of an incoming call from its SIP identity (user part and display name): the
 * phone number as the intake form takes it when either is one, else the user part as given. */
export function callerNumber(user, displayName) {
  for (const raw of [user, displayName]) {
    const phone = normalizePhone(raw);
    if (phone) return phone;
  }
  const plain = String(user || displayName || "").trim();
  return plain || "未知号码";
}

/** The call form's fields that, filled in, mean a call is being logged. */
export const CALL_FORM_FIELDS = ["phone", "name", "text", "address", "answer"];

/** Whether the call form is free for a new caller: none of its fields holds anything. */
export function formIsEmpty(values) {
  return !values.some((v) => String(v || "").trim());
}

/** A registration or connection failure in Chinese, from JsSIP's cause (C.causes) and the SIP
 * status code of the answer, if any. */
export function registrationError(cause, status) {
  switch (cause) {
    case "Authentication Error":
      return "注册失败：分机号或密码错误（凭据过期时请刷新页面）";
    case "Connection Error":
      return "注册失败：无法连接 SIP 服务器，正在重试";
    case "Request Timeout":
    case "SIP Failure Code":
      if (status === 403) return "注册失败：SIP 服务器拒绝了本分机（403）";
      if (status === 404) return "注册失败：SIP 服务器上没有这个分机（404）";
      return status ? `注册失败：SIP 服务器答复 ${status}` : "注册失败：SIP 服务器无应答";
    default:
      return `注册失败：${cause || "原因不明"}${status ? `（${status}）` : ""}`;
  }
}

/** Why a call could not go on, in Chinese (JsSIP's cause of a failed or ended session); null
 * for an ordinary end (a hang-up on either side). */
export function callError(cause) {
  switch (cause) {
    case "User Denied Media Access":
      return "无法接听：麦克风被拒绝，请在浏览器地址栏允许本站使用麦克风后重试";
    case "WebRTC Error":
    case "Incompatible SDP":
    case "Bad Media Description":
      return "无法接听：浏览器与对方的媒体协商失败";
    case "Connection Error":
      return "通话中断：与 SIP 服务器的连接断开";
    case "Request Timeout":
    case "RTP Timeout":
    case "No ACK":
      return "通话中断：对方无响应";
    default:
      return null;
  }
}

/** The SIP URI a blind transfer goes to, or an error naming the field: digits (and * #) only. */
export function transferTarget(input, domain) {
  const number = String(input || "").replace(/[\s-]/g, "");
  if (!number) return { error: "转接号码：不能为空（如 110）" };
  if (!/^[0-9*#]{1,20}$/.test(number)) return { error: "转接号码：只能是数字（如 110）" };
  return { uri: `sip:${number}@${domain}`, number };
}

/** An SDP answer as the browser can take it: some SIP phones (Debian's baresip 1.0) answer a
 * re-INVITE (保持/恢复) with `a=setup:actpass`, which an answer may not carry (RFC 5763); the
 * browser then drops the DTLS association and the call. The page answers every incoming call
 * as the DTLS client (Chromium's `active`), so the only role left for the far end is passive. */
export function fixAnswerSetup(sdp) {
  return String(sdp).replace(/^a=setup:actpass\r?$/gm, (line) =>
    line.replace("actpass", "passive"));
}

/** The JsSIP UA configuration of the boot settings (the socket is added by the page). */
export function uaConfig(settings) {
  const config = {
    uri: settings.uri,
    display_name: settings.display_name || undefined,
    register: true,
    register_expires: 300,
    session_timers: false,
    user_agent: "12345-hotline softphone (JsSIP)",
  };
  if (settings.authorization_user) {
    config.authorization_user = settings.authorization_user;
    config.password = settings.password;
  }
  return config;
}

/** A call's duration as m:ss (h:mm:ss past an hour). */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/* ------------------------------------------------------------------ the page */

function start(doc) {
  const $ = (id) => doc.getElementById(id);
  const panel = $("softphone");
  const boot = JSON.parse(($("boot") || {}).textContent || "{}");
  const settings = boot.softphone;
  if (!panel || !settings) return;
  const state = { ua: null, session: null, phase: "idle", since: 0, timer: null, ringer: null };

  const setLine = (line, error) => {
    panel.dataset.line = line;
    $("sp-status").textContent = LINE_LABELS[line];
    showError(error || null);
  };
  const showError = (message) => {
    $("sp-error").hidden = !message;
    $("sp-error").textContent = message || "";
  };
  const setPhase = (phase, caller) => {
    state.phase = phase;
    panel.dataset.state = phase;
    $("sp-call").hidden = phase === "idle";
    $("sp-phase").textContent = CALL_LABELS[phase];
    if (caller !== undefined) $("sp-caller").textContent = caller;
    const allowed = controls(phase);
    $("sp-answer").disabled = !allowed.answer;
    $("sp-hangup").disabled = !allowed.hangup;
    $("sp-hold").disabled = !allowed.hold;
    $("sp-hold").textContent = allowed.holdLabel;
    $("sp-transfer").disabled = !allowed.transfer;
    if (phase !== "ringing") stopRinging();
  };
  const stopRinging = () => {
    clearInterval(state.ringer);
    state.ringer = null;
  };
  const tick = () => { $("sp-timer").textContent = duration((Date.now() - state.since) / 1000); };

  if (!settings.uri) {
    setLine("unconfigured", "本账号未设置分机号，软电话无法注册；请管理员在“用户”页设置分机号");
    return;
  }

  const fillCaller = (number) => {
    const phone = $("phone");
    if (!phone || !normalizePhone(number)) return;
    // A call being logged keeps its form (as the screen pop does); the panel shows the number.
    if (!formIsEmpty(CALL_FORM_FIELDS.map((id) => ($(id) || {}).value))) return;
    phone.value = number;
    // As if typed: the intake page looks up the caller's history.
    phone.dispatchEvent(new Event("input", { bubbles: true }));
  };

  const onIncoming = (session) => {
    if (state.session) {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    state.session = session;
    const remote = session.remote_identity;
    const caller = callerNumber(remote.uri.user, remote.display_name);
    setPhase("ringing", caller);
    showError(null);
    // When the ring was shown (ms since the epoch): the browser test measures INVITE → ring.
    panel.dataset.rangAt = String(performance.timeOrigin + performance.now());
    panel.dataset.caller = caller;
    fillCaller(caller);
    doc.dispatchEvent(new CustomEvent("softphone:ringing", { detail: { caller } }));
    import("./lib/sound.js").then(({ beep }) => {
      if (state.session !== session || state.phase !== "ringing") return;
      beep(2);
      state.ringer = setInterval(() => beep(2), 3000);
    });
    session.on("accepted", () => {
      state.since = Date.now();
      clearInterval(state.timer);
      state.timer = setInterval(tick, 1000);
      tick();
      setPhase("incall");
    });
    session.on("sdp", (ev) => {
      if (ev.originator === "remote" && ev.type === "answer") ev.sdp = fixAnswerSetup(ev.sdp);
    });
    session.on("hold", () => setPhase("held"));
    session.on("unhold", () => setPhase("incall"));
    session.on("peerconnection", ({ peerconnection }) => {
      peerconnection.addEventListener("track", (ev) => {
        if (ev.streams[0]) $("sp-audio").srcObject = ev.streams[0];
      });
    });
    const finish = (missed) => ({ cause }) => {
      if (state.session !== session) return;
      state.session = null;
      clearInterval(state.timer);
      const was = state.phase;
      setPhase(was === "transferred" ? "transferred"
        : missed && was === "ringing" ? "missed" : "ended");
      showError(callError(cause));
      $("sp-audio").srcObject = null;
    };
    session.on("ended", finish(false));
    session.on("failed", finish(true));
  };

  $("sp-answer").addEventListener("click", () => {
    if (!state.session || state.phase !== "ringing") return;
    setPhase("answering");
    state.session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: settings.ice_servers || [] },
    });
  });
  $("sp-hangup").addEventListener("click", () => {
    if (state.session) state.session.terminate();
  });
  $("sp-hold").addEventListener("click", () => {
    const session = state.session;
    if (!session) return;
    if (state.phase === "held") session.unhold();
    else if (state.phase === "incall") session.hold();
  });
  $("sp-transfer").addEventListener("click", () => {
    const session = state.session;
    if (!session) return;
    const target = transferTarget($("sp-transfer-to").value, settings.domain);
    if (target.error) {
      showError(target.error);
      $("sp-transfer-to").focus();
      return;
    }
    showError(null);
    const back = state.phase;
    setPhase("transferring");
    // A blind transfer: once the caller's side takes the REFER (202), the call is theirs.
    session.refer(target.uri, {
      eventHandlers: {
        requestSucceeded: () => {
          setPhase("transferred");
          $("sp-caller").textContent = `${$("sp-caller").textContent} → ${target.number}`;
          session.terminate();
        },
        requestFailed: () => {
          setPhase(back);
          showError(`转接到 ${target.number} 被拒绝，通话仍在线`);
        },
      },
    });
  });

  setLine("connecting");
  import(JSSIP_MODULE).then(({ default: JsSIP }) => {
    const socket = new JsSIP.WebSocketInterface(settings.ws_url);
    const ua = new JsSIP.UA({ sockets: [socket], ...uaConfig(settings) });
    state.ua = ua;
    ua.on("connecting", () => { if (panel.dataset.line !== "failed") setLine("connecting"); });
    ua.on("disconnected", () => setLine("failed", registrationError("Connection Error")));
    ua.on("registered", () => setLine("registered"));
    ua.on("unregistered", () => setLine("unregistered"));
    ua.on("registrationFailed", ({ cause, response }) =>
      setLine("failed", registrationError(cause, response && response.status_code)));
    ua.on("newRTCSession", ({ originator, session }) => {
      if (originator === "remote") onIncoming(session);
    });
    ua.start();
    globalThis.addEventListener("pagehide", () => ua.stop());
  }).catch(() => setLine("failed", "注册失败：软电话组件加载失败，请刷新页面"));
}

if (globalThis.document) start(globalThis.document);
