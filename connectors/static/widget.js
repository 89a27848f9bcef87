/*
 * omnirouter site-chat widget. Plain ES2017, no dependencies, no build step.
 *
 * Embed:  <script src="https://host/chat/widget.js" async></script>
 * Options (attributes of that script tag): data-title, data-lang ("ru" or
 * "en"; by default the page's <html lang>, then the browser's languages, then
 * Russian), data-name, data-email, data-phone (the last three are passed to
 * the chat as what the visitor told the site; they are claims, not verified
 * identities).
 * API:    window.OmnirouterChat.open() / .close() / .send(text)
 *
 * Every text is rendered with textContent: neither customer nor agent text
 * is ever interpreted as HTML.
 */
(function () {
  "use strict";

  if (window.OmnirouterChat) {
    return; // embedded twice: one widget is enough
  }

  // replaced by the server with {"title": ...}; empty when served as a file
  var SERVER_CONFIG = {/*omnirouter:config*/};

  var KEY_VISITOR = "omnirouter.visitor_id";
  var KEY_PENDING = "omnirouter.pending";
  var MAX_TEXT = 10000; // router.models.MAX_TEXT_LENGTH
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var PING_EVERY_MS = 25000;
  // no frame (not even our pong) for this long: the network died silently
  var SILENCE_LIMIT_MS = 60000;

  // every word the widget writes, in the customer's language
  var STRINGS = {
    ru: { title: "Напишите нам", placeholder: "Напишите сообщение…", message: "Сообщение", send: "Отправить",
      close: "Закрыть", connecting: "Подключаемся…", online: "На связи", offline: "Нет связи, подключаемся снова…",
      tooFast: "Вы пишете быстрее, чем мы успеваем принять: сообщение уйдёт через {n} с.",
      tooLong: "Сообщение слишком длинное (не больше {n} символов)." },
    en: { title: "Chat with us", placeholder: "Type a message…", message: "Message", send: "Send",
      close: "Close", connecting: "Connecting…", online: "Online", offline: "Offline, reconnecting…",
      tooFast: "You are writing faster than we can take; the message will go in {n} s.",
      tooLong: "The message is too long (at most {n} characters)." },
  };

  var script = document.currentScript || findOwnScript();
  var scriptData = (script && script.dataset) || {};
  var words = STRINGS[pickLanguage([scriptData.lang, document.documentElement.lang].concat(
    navigator.languages || [navigator.language]))];
  var title = scriptData.title || SERVER_CONFIG.title || words.title;
  var wsUrl = websocketUrl(script);

  function pickLanguage(candidates) { // the first of them we speak; Russian when none is
    var codes = candidates.map(function (c) { return String(c || "").toLowerCase().slice(0, 2); });
    return codes.filter(function (code) { return STRINGS[code]; })[0] || "ru";
  }

  function say(key, n) { return words[key].replace("{n}", String(n)); }

  function findOwnScript() {
    // document.currentScript is null when loaded by some tag managers
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/chat\/widget\.js(\?|#|$)/.test(scripts[i].src)) {
        return scripts[i];
      }
    }
    return null;
  }

  function websocketUrl(tag) {
    // /chat/ws next to /chat/widget.js, same host, ws:// for http, wss:// for https
    var url = new URL("ws", tag && tag.src ? tag.src : new URL("/chat/widget.js", location.href).href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    return url.href;
  }

  // ---- storage: localStorage may be missing or throw (private mode, sandboxed iframes)

  var memoryStore = {};

  function load(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
    }
  }

  function save(key, value) {
    try {
      value === null ? window.localStorage.removeItem(key) : window.localStorage.setItem(key, value);
    } catch (e) {
      value === null ? delete memoryStore[key] : (memoryStore[key] = value);
    }
  }

  function storedPending() {
    try {
      var items = JSON.parse(load(KEY_PENDING) || "[]");
      return Array.isArray(items) ? items.filter(isPendingItem) : [];
    } catch (e) {
      return [];
    }
  }

  function isPendingItem(item) {
    return item && typeof item.client_id === "string" && typeof item.text === "string";
  }

  // read-modify-write, so several tabs of the site do not drop each other's items
  function storeAddPending(item) {
    var items = storedPending().filter(function (p) { return p.client_id !== item.client_id; });
    items.push(item);
    save(KEY_PENDING, JSON.stringify(items));
  }

  function storeRemovePending(clientId) {
    var items = storedPending().filter(function (p) { return p.client_id !== clientId; });
    save(KEY_PENDING, items.length ? JSON.stringify(items) : null);
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID(); // only in secure contexts (https, localhost)
    }
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // ---- state

  var state = {
    visitorId: load(KEY_VISITOR),
    pending: storedPending(), // [{client_id, text, ts}] not yet acknowledged
    ws: null,
    welcomed: false,
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    lastFrameAt: 0,
    started: false,
    unread: 0,
  };
  var renderedById = {}; // server id -> element: one element per message
  var pendingEls = {}; // client_id -> element
  var ui = null;

  // ---- styles: every class is prefixed omr- and scoped to the widget root

  var CSS = [
    ".omr-root, .omr-root * { box-sizing: border-box; margin: 0; padding: 0; }",
    ".omr-root { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2430; }",
    ".omr-launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer;",
    "  background: #2b6cb0; color: #fff; font-size: 24px; box-shadow: 0 4px 14px rgba(0,0,0,.25);",
    "  position: relative; display: flex; align-items: center; justify-content: center; }",
    ".omr-launcher:focus-visible, .omr-send:focus-visible, .omr-close:focus-visible { outline: 3px solid #90cdf4; }",
    ".omr-badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px;",
    "  border-radius: 10px; background: #e53e3e; color: #fff; font-size: 12px; line-height: 20px; }",
    ".omr-badge[hidden], .omr-panel[hidden], .omr-launcher[hidden] { display: none; }",
    ".omr-panel { width: 360px; max-width: calc(100vw - 24px); height: 520px; max-height: calc(100vh - 40px);",
    "  background: #fff; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden;",
    "  display: flex; flex-direction: column; }",
    ".omr-header { background: #2b6cb0; color: #fff; padding: 10px 14px; display: flex; align-items: center; gap: 8px; }",
    ".omr-title { flex: 1; font-weight: 600; font-size: 15px; }",
    ".omr-status { font-size: 11px; opacity: .85; }",
    ".omr-close { background: transparent; border: 0; color: #fff; font-size: 20px; cursor: pointer; line-height: 1; }",
    ".omr-messages { flex: 1; overflow-y: auto; padding: 12px; background: #f5f7fa;",
    "  display: flex; flex-direction: column; gap: 6px; }",
    ".omr-msg { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; background: #fff; border: 1px solid #e2e8f0; align-self: flex-start; }",
    ".omr-msg--customer { align-self: flex-end; background: #2b6cb0; border-color: #2b6cb0; color: #fff; }",
    ".omr-msg--bot { background: #edf2f7; }",
    ".omr-msg--pending { opacity: .6; }",
    ".omr-msg::after { content: attr(data-time); display: block; font-size: 10px; opacity: .7; margin-top: 2px;",
    "  text-align: right; }",
    ".omr-form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e2e8f0; background: #fff; }",
    ".omr-input { flex: 1; resize: none; height: 40px; max-height: 120px; padding: 8px; font: inherit; color: inherit;",
    "  border: 1px solid #cbd5e0; border-radius: 8px; background: #fff; }",
    ".omr-send { border: 0; border-radius: 8px; padding: 0 14px; background: #2b6cb0; color: #fff;",
    "  font: inherit; font-weight: 600; cursor: pointer; }",
    ".omr-note { font-size: 12px; color: #c53030; padding: 0 10px 6px; background: #fff; }",
    ".omr-note:empty { display: none; }",
    "@media (max-width: 480px) { .omr-root { right: 8px; bottom: 8px; }",
    "  .omr-panel { width: calc(100vw - 16px); height: calc(100vh - 16px); } }",
  ].join("\n");

  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }

  function buildUi() {
    var style = el("style", "", { "data-omr": "style" });
    style.textContent = CSS;
    document.head.appendChild(style);

    var root = el("div", "omr-root");
    var launcher = el("button", "omr-launcher", { type: "button", "data-omr": "launcher", "aria-label": title });
    launcher.textContent = "\uD83D\uDCAC";
    var badge = el("span", "omr-badge", { "data-omr": "unread", hidden: "" });
    launcher.appendChild(badge);

    var panel = el("div", "omr-panel", { id: "omnirouter-chat", role: "dialog", "aria-label": title, hidden: "" });
    var header = el("div", "omr-header");
    var heading = el("div", "omr-title");
    heading.textContent = title;
    var status = el("span", "omr-status", { "data-omr": "status", "aria-live": "polite" });
    var closeBtn = el("button", "omr-close", { type: "button", "data-omr": "close", "aria-label": words.close });
    closeBtn.textContent = "\u00D7";
    header.append(heading, status, closeBtn);

    var messages = el("div", "omr-messages", { "data-omr": "messages", role: "log", "aria-live": "polite" });
    var note = el("div", "omr-note", { "data-omr": "note", role: "alert" });
    var form = el("form", "omr-form");
    var input = el("textarea", "omr-input", {
      "data-omr": "input", rows: "1", maxlength: String(MAX_TEXT), placeholder: words.placeholder,
      "aria-label": words.message,
    });
    var sendBtn = el("button", "omr-send", { type: "submit", "data-omr": "send" });
    sendBtn.textContent = words.send;
    form.append(input, sendBtn);
    panel.append(header, messages, note, form);
    root.append(panel, launcher);
    document.body.appendChild(root);

    ui = { root: root, launcher: launcher, badge: badge, panel: panel, status: status, messages: messages,
      note: note, form: form, input: input };
    wireUi();
    setStatus("idle");
  }

  function wireUi() {
    ui.launcher.addEventListener("click", function () { isOpen() ? close() : open(); });
    ui.panel.querySelector("[data-omr=close]").addEventListener("click", close);
    ui.form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      submitInput();
    });
    ui.input.addEventListener("keydown", function (ev) {
      // Enter sends, Shift+Enter is a new line; never while an IME is composing
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        submitInput();
      }
    });
  }

  function submitInput() {
    if (send(ui.input.value)) {
      ui.input.value = "";
    }
    ui.input.focus();
  }

  function isOpen() {
    return !!ui && !ui.panel.hidden;
  }

  function setStatus(kind) {
    if (!ui) {
      return;
    }
    var labels = { idle: "", connecting: words.connecting, online: words.online, offline: words.offline };
    ui.status.setAttribute("data-state", kind);
    ui.status.textContent = labels[kind] || kind;
  }

  function showNote(text) {
    if (ui) {
      ui.note.textContent = text;
    }
  }

  // ---- rendering (textContent only)

  function formatTime(ts) {
    var date = new Date(ts);
    return isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function messageEl(author, text, ts) {
    var kind = author === "customer" || author === "bot" ? author : "agent";
    // the time is drawn by CSS from data-time, so the element's text is
    // exactly the message text (copy and paste, screen readers, tests)
    var node = el("div", "omr-msg omr-msg--" + kind, {
      "data-omr": "message", "data-author": kind, "data-time": formatTime(ts), title: String(ts || ""),
    });
    node.textContent = text;
    return node;
  }

  function appendEl(node) {
    var list = ui.messages;
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(node);
    if (atBottom || node.classList.contains("omr-msg--customer")) {
      list.scrollTop = list.scrollHeight;
    }
  }

  function renderMessage(frame) {
    if (typeof frame.id !== "string" || renderedById[frame.id]) {
      return false; // already shown (history, echo or our own acknowledged message)
    }
    var node = messageEl(frame.author, String(frame.text == null ? "" : frame.text), frame.ts);
    node.setAttribute("data-id", frame.id);
    renderedById[frame.id] = node;
    appendEl(node);
    return true;
  }

  function renderPending(item) {
    var node = messageEl("customer", item.text, item.ts);
    node.classList.add("omr-msg--pending");
    node.setAttribute("data-pending", "true");
    node.setAttribute("data-client-id", item.client_id);
    pendingEls[item.client_id] = node;
    appendEl(node);
  }

  function renderAll(history) {
    ui.messages.textContent = "";
    renderedById = {};
    pendingEls = {};
    history.forEach(renderMessage);
    state.pending.forEach(renderPending);
  }

  // ---- the connection

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.ws) {
      return;
    }
    setStatus("connecting");
    var sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = sock;
    state.welcomed = false;
    sock.onopen = function () { onOpen(sock); };
    sock.onmessage = function (ev) { onFrame(sock, ev.data); };
    sock.onclose = function () { onClose(sock); };
  }

  function onOpen(sock) {
    state.lastFrameAt = Date.now();
    var hello = { type: "hello" };
    if (state.visitorId) {
      hello.visitor_id = state.visitorId;
    }
    ["name", "email", "phone"].forEach(function (key) {
      if (scriptData[key]) {
        hello[key] = String(scriptData[key]).slice(0, 256);
      }
    });
    sock.send(JSON.stringify(hello));
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(function () { keepAlive(sock); }, PING_EVERY_MS);
  }

  function keepAlive(sock) {
    if (Date.now() - state.lastFrameAt > SILENCE_LIMIT_MS) {
      // a dead network may take minutes to fire onclose: give up on it now
      sock.close();
      onClose(sock);
    } else if (sock.readyState === WebSocket.OPEN) {
      sock.send(JSON.stringify({ type: "ping" }));
    }
  }

  function onClose(sock) {
    if (state.ws !== sock) {
      return;
    }
    clearInterval(state.pingTimer);
    state.ws = null;
    state.welcomed = false;
    setStatus("offline");
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (state.reconnectTimer) {
      return;
    }
    // exponential backoff with jitter, so a server restart is not hit by every tab at once
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, state.attempt));
    state.attempt += 1;
    var delay = ceiling / 2 + Math.random() * (ceiling / 2);
    state.reconnectTimer = setTimeout(function () {
      state.reconnectTimer = null;
      connect();
    }, delay);
  }

  function onFrame(sock, data) {
    if (state.ws !== sock) {
      return;
    }
    state.lastFrameAt = Date.now();
    var frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      return;
    }
    var handlers = { welcome: onWelcome, ack: onAck, message: onMessage, error: onError, pong: function () {} };
    if (frame && handlers[frame.type]) {
      handlers[frame.type](frame);
    }
  }

  function onWelcome(frame) {
    if (typeof frame.visitor_id === "string" && frame.visitor_id) {
      state.visitorId = frame.visitor_id;
      save(KEY_VISITOR, frame.visitor_id);
    }
    state.welcomed = true;
    state.attempt = 0;
    setStatus("online");
    renderAll(Array.isArray(frame.history) ? frame.history : []);
    // the server dedupes by client_id: re-sending what may have arrived is safe
    state.pending.forEach(transmit);
  }

  function onAck(frame) {
    var index = state.pending.findIndex(function (p) { return p.client_id === frame.client_id; });
    if (index < 0) {
      return;
    }
    state.pending.splice(index, 1);
    storeRemovePending(frame.client_id);
    var node = pendingEls[frame.client_id];
    delete pendingEls[frame.client_id];
    if (!node) {
      return;
    }
    if (renderedById[frame.id]) {
      node.remove(); // it was stored before the connection dropped and came back in the history
      return;
    }
    node.classList.remove("omr-msg--pending");
    node.removeAttribute("data-pending");
    node.setAttribute("data-id", frame.id);
    renderedById[frame.id] = node;
  }

  function onMessage(frame) {
    if (renderMessage(frame) && frame.author !== "customer" && !isOpen()) {
      state.unread += 1;
      ui.badge.textContent = String(state.unread);
      ui.badge.hidden = false;
    }
  }

  function onError(frame) {
    if (frame.code === "rate_limited" && retryLater(frame)) {
      return;
    }
    if (window.console) {
      window.console.warn("omnirouter chat:", frame.code, frame.message);
    }
  }

  // The server refused a message as too fast; it stays pending and goes again
  // when the server says (a reconnect meanwhile re-sends it anyway).
  function retryLater(frame) {
    var item = null;
    for (var i = 0; i < state.pending.length; i++) {
      if (state.pending[i].client_id === frame.client_id) {
        item = state.pending[i];
      }
    }
    if (!item) {
      return false;
    }
    var wait = Math.min(3600, Math.max(1, Number(frame.retry_after) || 5));
    showNote(say("tooFast", wait));
    setTimeout(function () {
      if (state.pending.indexOf(item) >= 0) {
        showNote("");
        transmit(item);
      }
    }, wait * 1000);
    return true;
  }

  function transmit(item) {
    if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify({ type: "message", text: item.text, client_id: item.client_id }));
    }
  }

  // ---- the API

  function open() {
    whenReady(function () {
      ui.panel.hidden = false;
      ui.launcher.hidden = true;
      state.unread = 0;
      ui.badge.hidden = true;
      start();
      ui.messages.scrollTop = ui.messages.scrollHeight;
      ui.input.focus();
    });
  }

  function close() {
    whenReady(function () {
      ui.panel.hidden = true;
      ui.launcher.hidden = false;
      ui.launcher.focus();
    });
  }

  // Returns the message's client_id, or null when there is nothing to send.
  function send(text) {
    var body = String(text == null ? "" : text).trim();
    if (!body) {
      return null;
    }
    if (body.length > MAX_TEXT) {
      showNote(say("tooLong", MAX_TEXT));
      return null;
    }
    showNote("");
    var item = { client_id: newClientId(), text: body, ts: new Date().toISOString() };
    state.pending.push(item);
    storeAddPending(item); // survives a reload before the server acknowledged it
    if (ui) {
      renderPending(item);
    }
    whenReady(start);
    transmit(item);
    return item.client_id;
  }

  function start() {
    if (!state.started) {
      state.started = true;
      window.addEventListener("online", function () {
        if (!state.ws) {
          state.attempt = 0;
          connect();
        }
      });
      connect();
    }
  }

  var readyQueue = [];

  function whenReady(fn) {
    if (ui) {
      fn();
    } else {
      readyQueue.push(fn);
    }
  }

  function init() {
    buildUi();
    state.pending.forEach(renderPending);
    readyQueue.splice(0).forEach(function (fn) { fn(); });
    // a returning visitor may have replies waiting; a new one connects on first open
    if (state.visitorId || state.pending.length) {
      start();
    }
  }

  window.OmnirouterChat = { open: open, close: close, send: send };

  if (document.body) {
    init();
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
})();
