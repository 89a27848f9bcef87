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
  // the widget's language: what a message without words ("5", a photo) is answered in
  var hello = { type: "hello", lang: lang };
  if (state.visitorId) {
    hello.visitor_id = state.visitorId;
  }
  ["name", "email", "phone"].forEach(function (key) {
    if (scriptData[key]) {
      hello[key] = String(scriptData[key]).slice(0, 256);
    }
  });
  hooks.hello.forEach(function (fn) { fn(hello); });
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
  var handler = frame && typeof frame.type === "string"
    ? handlers[frame.type] || (Object.prototype.hasOwnProperty.call(hooks.frame, frame.type) && hooks.frame[frame.type])
    : null;
  if (handler) {
    handler(frame);
  }
}

function onWelcome(frame) {
  if (typeof frame.visitor_id === "string" && frame.visitor_id) {
    state.visitorId = frame.visitor_id;
    save(KEY_VISITOR, frame.visitor_id);
  }
  state.welcomed = true;
  state.attempt = 0;
  hooks.welcome.forEach(function (fn) { fn(frame); });
  setStatus("online");
  renderAll(Array.isArray(frame.history) ? frame.history : []);
  // the server dedupes by client_id: re-sending what may have arrived is safe
  state.pending.forEach(transmit);
}

function onAck(frame) {
  var index = state.pending.findIndex(function (p) { return p.client_id === frame.client_id; });
  if (index < 0) {
    hooks.ack.forEach(function (fn) { fn(frame); });
    return;
  }
  state.pending.splice(index, 1);
  storeRemovePending(frame.client_id);
  endSlowNote();
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
  if (((frame.code === "rate_limited" || frame.code === "busy") && retryLater(frame)) || hooks.error.some(function (fn) { return fn(frame); })) {
    return;
  }
  if (window.console) {
    window.console.warn("omnirouter chat:", frame.code, frame.message);
  }
}

// The server refused a message as too fast, or as more than it can take now
// (busy); it stays pending and goes again when the server says (a reconnect
// meanwhile re-sends it anyway).
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
  item.held = true; // the server said when: that note stands, not the one of a message unanswered
  state.slowNote = false;
  showNote(say(frame.code === "busy" ? "busy" : "too_fast", { n: wait }));
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
    item.held = false;
    state.ws.send(JSON.stringify({ type: "message", text: item.text, client_id: item.client_id }));
    watchAck(item, state.ws);
  }
}

// A message the server has not acknowledged a while after it went: the line
// may be dead without a word (a network that drops packets closes nothing for
// a minute or more) or the service slow. The customer is told that it has not
// gone through yet and will go by itself, instead of a faded bubble under a
// status that still says all is well; the note goes when it is acknowledged.
var UNACKED_NOTE_MS = 8000;

function watchAck(item, sock) {
  setTimeout(function () {
    if (state.pending.indexOf(item) >= 0 && !item.held && (state.ws === sock || !state.welcomed)) {
      state.slowNote = true;
      showNote(say("not_delivered"));
    }
  }, UNACKED_NOTE_MS);
}

function endSlowNote() {
  if (state.slowNote && !state.pending.length) {
    state.slowNote = false;
    showNote("");
  }
}
