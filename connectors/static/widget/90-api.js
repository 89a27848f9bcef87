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
    hooks.open.forEach(function (fn) { fn(); });
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
    showNote(say("too_long", { n: MAX_TEXT }));
    return null;
  }
  if (!state.slowNote && !state.whenNote) {
    showNote(""); // what it says of messages waiting stands
  }
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
  if (!state.started && hooks.start.every(function (fn) { return fn() !== false; })) {
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
  renderAll([]); // what waits to be sent, and the greeting (40-welcome.js)
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
