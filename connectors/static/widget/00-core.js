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
 * Every text is rendered with textContent (its web addresses as links built
 * as elements): neither customer nor agent text is ever interpreted as HTML.
 *
 * Source: the parts in connectors/static/widget/, joined in name order inside
 * one function by the server (connectors/webchat.py). Each part sees the
 * others' names; a part adds to the widget through `hooks` (below), never by
 * editing another part.
 */
if (window.OmnirouterChat) {
  return; // embedded twice: one widget is enough
}

// replaced by the server with the installation's settings and the catalogues
// (connectors/webchat.py, widget_config); the widget is only ever served by it
var SERVER_CONFIG = {/*omnirouter:config*/};

var KEY_VISITOR = "omnirouter.visitor_id";
var KEY_PENDING = "omnirouter.pending";
var MAX_TEXT = 10000; // router.models.MAX_TEXT_LENGTH
var BACKOFF_FIRST_MS = 500;
var BACKOFF_MAX_MS = 10000;
// a message the service refused for now (busy, or its store down): sent again after what it said
// and at least this, doubled with each refusal in a row up to RETRY_MAX_MS, plus up to half again
// of jitter, so the tabs refused in an outage neither hammer it nor all come back at once
var RETRY_FIRST_MS = 1000;
var RETRY_MAX_MS = 20000;
var PING_EVERY_MS = 25000;
// no frame (not even our pong) for this long: the network died silently
var SILENCE_LIMIT_MS = 60000;

// every word the widget writes, in the customer's language: the server puts
// its catalogues (connectors/static/i18n/<lang>.json) in SERVER_CONFIG.strings
var STRINGS = SERVER_CONFIG.strings || {};

var script = document.currentScript || findOwnScript();
var scriptData = (script && script.dataset) || {};
var lang = pickLanguage([scriptData.lang, document.documentElement.lang].concat(
  navigator.languages || [navigator.language]));
var words = STRINGS[lang] || {};
var title = scriptData.title || localized(SERVER_CONFIG.title) || say("title");
var wsUrl = websocketUrl(script);

function pickLanguage(candidates) { // the first of them we speak; Russian when none is
  var codes = candidates.map(function (c) { return String(c || "").toLowerCase().slice(0, 2); });
  return codes.filter(function (code) { return STRINGS[code]; })[0] || "ru";
}

// a text of the catalogue, its {{name}}s filled from vars; a number as the visitor's language writes
// it («не больше 10 000 символов», «19,5 МБ»; "10,000 characters")
function say(key, vars) {
  var text = Object.prototype.hasOwnProperty.call(words, key) ? words[key] : key;
  return text.replace(/\{\{(\w+)\}\}/g, function (whole, name) {
    if (!vars || vars[name] === undefined) {
      return whole;
    }
    return typeof vars[name] === "number" ? vars[name].toLocaleString(lang) : String(vars[name]);
  });
}

// an installation's own text ({"ru": ..., "en": ...}, or one string): the visitor's language, else the first
function localized(texts) {
  if (!texts || typeof texts === "string") {
    return texts || "";
  }
  return texts[lang] || texts[Object.keys(texts)[0]] || "";
}

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

// a list kept in localStorage under key: its items that pass valid; [] when absent or broken
function storedList(key, valid) {
  try {
    var items = JSON.parse(load(key) || "[]");
    return Array.isArray(items) ? items.filter(valid) : [];
  } catch (e) {
    return [];
  }
}

// read-modify-write, so several tabs of the site do not drop each other's items:
// the stored items that keep() keeps, then add (if any)
function changeList(key, valid, keep, add) {
  var items = storedList(key, valid).filter(keep);
  if (add) {
    items.push(add);
  }
  save(key, items.length ? JSON.stringify(items) : null);
}

function storedPending() {
  return storedList(KEY_PENDING, isPendingItem);
}

function isPendingItem(item) {
  return item && typeof item.client_id === "string" && typeof item.text === "string";
}

function storeAddPending(item) {
  changeList(KEY_PENDING, isPendingItem, function (p) { return p.client_id !== item.client_id; }, item);
}

function storeRemovePending(clientId) {
  changeList(KEY_PENDING, isPendingItem, function (p) { return p.client_id !== clientId; }, null);
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
  attempt: 0, // reconnections since the service last proved it works (30-connection.js)
  reconnectTimer: null,
  sockets: 0, // sockets opened: each pending message notes the one it went on
  retryStep: 0, // the service's refusals (busy, unavailable) in a row
  retryAt: 0, // nothing pending goes before this time (ms): the service said when
  retryTimer: null,
  pingTimer: null,
  lastFrameAt: 0,
  started: false,
  unread: 0,
  slowNote: false, // the note says a message has not gone through yet (30-connection.js)
  whenNote: false, // the note says when a refused message goes again (30-connection.js)
};
var renderedById = {}; // server id -> element: one element per message
var pendingEls = {}; // client_id -> element
var ui = null;

// what the parts after this one add to the widget
var hooks = {
  frame: {}, // frame type -> function (frame): a server frame the core does not handle
  ui: [], // function (ui): after the panel is built (add buttons, styles, elements)
  message: [], // function (node, frame): after a server message is drawn
  welcome: [], // function (frame): after a welcome frame
  ack: [], // function (frame): an ack the core's own pending messages do not know (a part's frame)
  pending: [], // function (): true while a part has frames the server has not acknowledged
  error: [], // function (frame): an error frame; true when the part handled it (a part's frame refused)
  rendered: [], // function (history): after the whole thread is drawn (a welcome, the first open)
  hello: [], // function (hello): before a hello frame is sent (add fields)
  css: [], // strings of CSS, joined after the core's
  start: [], // function (): false holds the first connection back (a form to fill in first)
  open: [], // function (): the panel was opened (the thread is in front of the visitor)
};

// a frame to the server now, when the chat is connected and welcomed; false otherwise
function sendFrame(frame) {
  if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}
