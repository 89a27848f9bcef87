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
  // the title above the status line, both the panel's width: a long status never squeezes the title
  ".omr-heading { flex: 1; min-width: 0; display: flex; flex-direction: column; }",
  ".omr-title { font-weight: 600; font-size: 15px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
  // lighter than the title, yet 4.5:1 on the header's blue (an opacity of .85 made it 4.4:1)
  ".omr-status { font-size: 11px; color: #eef4fa; }",
  ".omr-close { background: transparent; border: 0; color: #fff; font-size: 20px; cursor: pointer; line-height: 1; }",
  ".omr-messages { flex: 1; overflow-y: auto; padding: 12px; background: #f5f7fa;",
  "  display: flex; flex-direction: column; gap: 6px; }",
  ".omr-messages:focus-visible { outline: 3px solid #90cdf4; outline-offset: -3px; }",
  ".omr-msg { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap;",
  "  overflow-wrap: anywhere; background: #fff; border: 1px solid #e2e8f0; align-self: flex-start; }",
  ".omr-msg--customer { align-self: flex-end; background: #2b6cb0; border-color: #2b6cb0; color: #fff; }",
  ".omr-msg--bot { background: #edf2f7; }",
  ".omr-msg--pending { opacity: .6; }",
  ".omr-link { color: inherit; text-decoration: underline; overflow-wrap: anywhere; }",
  ".omr-link:focus-visible { outline: 2px solid #90cdf4; }",
  ".omr-msg::after { content: attr(data-time); display: block; font-size: 10px; opacity: .7; margin-top: 2px;",
  "  text-align: right; }",
  // the time under the customer's own text: faded to .7 on the blue it was 3.5:1, under 4.5:1
  ".omr-msg--customer::after { opacity: 1; color: #eef4fa; }",
  ".omr-form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e2e8f0; background: #fff; }",
  ".omr-input { flex: 1; resize: none; height: 40px; max-height: 120px; padding: 8px; font: inherit; color: inherit;",
  "  border: 1px solid #cbd5e0; border-radius: 8px; background: #fff; }",
  ".omr-send { border: 0; border-radius: 8px; padding: 0 14px; background: #2b6cb0; color: #fff;",
  "  font: inherit; font-weight: 600; cursor: pointer; }",
  ".omr-note { font-size: 12px; color: #c53030; padding: 0 10px 6px; background: #fff; }",
  ".omr-note:empty { display: none; }",
  "@media (max-width: 480px) { .omr-root { right: 8px; bottom: 8px; }",
  // a phone: the panel fills the screen but 8px all round (the desktop's caps would leave 16px
  // on the left and 32px on top); dvh where known, so a browser's toolbar never hides the field
  "  .omr-panel { width: calc(100vw - 16px); max-width: none; height: calc(100vh - 16px); max-height: none; }",
  "  @supports (height: 100dvh) { .omr-panel { height: calc(100dvh - 16px); } } }",
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
  addStyles([CSS].concat(hooks.css).join("\n"));

  var root = el("div", "omr-root");
  var launcher = el("button", "omr-launcher", { type: "button", "data-omr": "launcher", "aria-label": say("open") });
  // an SVG, not an emoji: a machine without an emoji font shows an empty box
  launcher.appendChild(icon(BUBBLE_ICON, 28));
  var badge = el("span", "omr-badge", { "data-omr": "unread", hidden: "" });
  launcher.appendChild(badge);

  var panel = el("div", "omr-panel", { id: "omnirouter-chat", role: "dialog", "aria-label": title, hidden: "" });
  var header = el("div", "omr-header");
  var heading = el("div", "omr-heading");
  var titleEl = el("div", "omr-title", { title: title });
  titleEl.textContent = title;
  var status = el("span", "omr-status", { "data-omr": "status", "aria-live": "polite" });
  heading.append(titleEl, status);
  var closeBtn = el("button", "omr-close", { type: "button", "data-omr": "close", "aria-label": say("close") });
  closeBtn.textContent = "\u00D7";
  header.append(heading, closeBtn);

  // focusable: the keyboard scrolls the history (arrows, PageUp, Home) as a mouse wheel does
  var messages = el("div", "omr-messages", { "data-omr": "messages", role: "log", "aria-live": "polite",
    tabindex: "0", "aria-label": say("history") });
  var note = el("div", "omr-note", { "data-omr": "note", role: "alert" });
  var form = el("form", "omr-form");
  var input = el("textarea", "omr-input", {
    // no maxlength: it cut a longer paste short without a word, and the end went missing from the
    // message; send() says it is too long instead, and the text stays in the field
    "data-omr": "input", rows: "1", placeholder: say("placeholder"),
    "aria-label": say("message"), dir: "auto", // Hebrew or Arabic typed right to left
  });
  var sendBtn = el("button", "omr-send", { type: "submit", "data-omr": "send" });
  sendBtn.textContent = say("send");
  form.append(input, sendBtn);
  panel.append(header, messages, note, form);
  root.append(panel, launcher);
  document.body.appendChild(root);

  ui = { root: root, launcher: launcher, badge: badge, panel: panel, status: status, messages: messages,
    note: note, form: form, input: input };
  wireUi();
  setStatus("idle");
  hooks.ui.forEach(function (fn) { fn(ui); });
}

// The widget's styles as a constructed style sheet: a site whose Content-Security-Policy
// allows no inline styles (no 'unsafe-inline' in style-src) refuses a <style> element, and the
// chat was drawn as bare text across the page; a sheet built through the CSSOM is not inline
// style, so it applies under any policy. A <style> element where the browser has no such sheets.
function addStyles(text) {
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(text);
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    return;
  } catch (e) {
    // an older browser: below
  }
  var style = el("style", "", { "data-omr": "style" });
  style.textContent = text;
  document.head.appendChild(style);
}

// an inline SVG icon of one path (24×24 viewBox), drawn in the text colour
var BUBBLE_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";

function icon(path, size) {
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("data-omr", "icon");
  var shape = document.createElementNS(ns, "path");
  shape.setAttribute("d", path);
  shape.setAttribute("fill", "currentColor");
  svg.appendChild(shape);
  return svg;
}

function wireUi() {
  ui.launcher.addEventListener("click", function () { isOpen() ? close() : open(); });
  ui.panel.querySelector("[data-omr=close]").addEventListener("click", close);
  // a dialog closes with Escape, and the focus goes back to the launcher (close())
  ui.panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !ev.isComposing) {
      close();
    }
  });
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
  // connected: whether people answer now, or when they will (availabilityText, 40-welcome.js)
  var labels = { idle: "", connecting: say("connecting"), online: availabilityText(), offline: say("offline") };
  ui.status.setAttribute("data-state", kind);
  // a state without words of its own shows none: never the state's English name
  ui.status.textContent = labels[kind] || "";
}

function showNote(text) {
  if (ui) {
    ui.note.textContent = text;
  }
}

// ---- rendering (textContent only)

function formatTime(ts) {
  var date = new Date(ts);
  // in the widget's language, never the browser's locale (one screen, one language), as it writes a time:
  // «14:05», "2:05 PM" (not "02:05 PM")
  return isNaN(date.getTime()) ? "" : date.toLocaleTimeString(lang, { timeStyle: "short" });
}

// the whole date and time, for the tooltip: a thread read the next day shows only times
function formatDateTime(ts) {
  var date = new Date(ts);
  return isNaN(date.getTime()) ? "" : date.toLocaleString(lang, { dateStyle: "long", timeStyle: "short" });
}

function messageEl(author, text, ts) {
  var kind = author === "customer" || author === "bot" ? author : "agent";
  // the time is drawn by CSS from data-time, so the element's text is
  // exactly the message text (copy and paste, screen readers, tests)
  var node = el("div", "omr-msg omr-msg--" + kind, {
    "data-omr": "message", "data-author": kind, "data-time": formatTime(ts), title: formatDateTime(ts),
    dir: "auto", // each message in its own script's direction: Hebrew and Arabic right to left
  });
  appendLinked(node, text);
  return node;
}

// The text as text nodes, its web addresses as links that open in a new tab (an order's tracking
// page, a payment link): built as elements, so nothing in the text is ever read as HTML, and the
// element's text stays exactly the message's. Only http and https; a sentence's closing
// punctuation after an address is not part of it.
var URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'«»]+/gi;

function appendLinked(node, text) {
  var at = 0;
  text.replace(URL_IN_TEXT, function (found, offset) {
    var address = trimAddress(found);
    var href = safeHref(address);
    if (!href) {
      return found;
    }
    node.appendChild(document.createTextNode(text.slice(at, offset)));
    var link = el("a", "omr-link", { href: href, target: "_blank", rel: "noopener noreferrer nofollow",
      "data-omr": "link" });
    link.textContent = address;
    node.appendChild(link);
    at = offset + address.length;
    return found;
  });
  node.appendChild(document.createTextNode(text.slice(at)));
}

function trimAddress(found) {
  var address = found;
  while (/[.,;:!?)\]}]$/.test(address)) {
    var last = address.charAt(address.length - 1);
    if (last === ")" && (address.match(/\(/g) || []).length >= (address.match(/\)/g) || []).length) {
      break; // its own bracket: wikipedia.org/wiki/Tea_(drink)
    }
    address = address.slice(0, -1);
  }
  return address;
}

function safeHref(address) {
  try {
    var url = new URL(address);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
  } catch (e) {
    return "";
  }
}

function appendEl(node) {
  var list = ui.messages;
  var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.appendChild(node);
  if (atBottom || node.classList.contains("omr-msg--customer")) {
    list.scrollTop = list.scrollHeight;
  }
}

// after: the element to put it after (a redraw keeps what is shown in place); else at the end
function renderMessage(frame, after) {
  if (typeof frame.id !== "string" || renderedById[frame.id]) {
    return false; // already shown (history, echo or our own acknowledged message)
  }
  var node = messageEl(frame.author, String(frame.text == null ? "" : frame.text), frame.ts);
  node.setAttribute("data-id", frame.id);
  renderedById[frame.id] = node;
  hooks.message.forEach(function (fn) { fn(node, frame); });
  if (after === undefined) {
    appendEl(node);
  } else {
    ui.messages.insertBefore(node, after ? after.nextSibling : ui.messages.firstChild);
  }
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

// A welcome's history, on every (re)connection: the messages already shown stay the same elements,
// in place, and only what is new is added. Drawing the whole thread again made the log's aria-live
// read every message out again at each reconnection, and lost the reader's place in it.
function renderAll(history) {
  var list = ui.messages;
  var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  var kept = {};
  history.forEach(function (frame) {
    if (frame && typeof frame.id === "string" && renderedById[frame.id]) {
      kept[frame.id] = renderedById[frame.id];
    }
  });
  var greeting = history.length ? null : ui.messages.querySelector("[data-omr=greeting]");
  Array.prototype.slice.call(ui.messages.children).forEach(function (node) {
    var id = node.getAttribute("data-id");
    if (!(id && kept[id] === node) && node !== greeting) {
      node.remove(); // pending bubbles, surveys and files are drawn again below, after the history
    }
  });
  renderedById = kept;
  pendingEls = {};
  var cursor = greeting;
  history.forEach(function (frame) {
    if (frame && kept[frame.id]) {
      cursor = kept[frame.id];
    } else if (frame && renderMessage(frame, cursor)) {
      cursor = renderedById[frame.id];
    }
  });
  if (atBottom) {
    list.scrollTop = list.scrollHeight;
  }
  state.pending.forEach(renderPending);
  hooks.rendered.forEach(function (fn) { fn(history); });
}
