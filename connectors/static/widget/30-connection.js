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
  state.sockets += 1;
  sock.serial = state.sockets;
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
  // exponential backoff with jitter, so a server restart is not hit by every tab at once; it starts
  // over only when the service proved it works (serviceWorks), not at every welcome: in an outage
  // of its store the service welcomes each tab and refuses its message, and a backoff started over
  // at each welcome had every tab back two to four times a second. (A message refused for now waits
  // for its time on the new socket too: flushPending)
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
  if (!somethingPending()) {
    serviceWorks(); // a welcome proves it only when nothing waits: the store may take no message
  }
  hooks.welcome.forEach(function (fn) { fn(frame); });
  setStatus("online");
  renderAll(Array.isArray(frame.history) ? frame.history : []);
  // the server dedupes by client_id: re-sending what may have arrived is safe
  flushPending();
}

function somethingPending() {
  return state.pending.length > 0 || hooks.pending.some(function (fn) { return fn(); });
}

// the service took something: the next refusal or lost connection starts its waits over
function serviceWorks() {
  state.attempt = 0;
  state.retryStep = 0;
}

function onAck(frame) {
  serviceWorks();
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
  var refused = Object.prototype.hasOwnProperty.call(REFUSED_FOR_NOW, frame.code);
  if (refused) {
    holdBack(frame);
  }
  if ((refused && retryLater(frame)) || hooks.error.some(function (fn) { return fn(frame); })) {
    return;
  }
  if (window.console) {
    window.console.warn("omnirouter chat:", frame.code, frame.message);
  }
}

// Refused for now, not for good: too fast (the visitor's own limit), more than the service can take
// now (busy), or not stored (unavailable: its store is down; the server closes the socket after it).
// The note each is told with: busy and too fast say when, unavailable that it waits (until the ack).
var REFUSED_FOR_NOW = { rate_limited: "too_fast", busy: "busy", unavailable: "unavailable" };

// Until when nothing pending goes (state.retryAt): what the server said, and for the service's own
// refusals at least a wait that doubles with each in a row, with jitter, so the tabs refused in an
// outage do not come back together; a reconnection meanwhile does not send the message sooner.
function holdBack(frame) {
  var said = Math.min(3600, Math.max(1, Number(frame.retry_after) || 5)) * 1000;
  var wait = said;
  if (frame.code !== "rate_limited") {
    state.retryStep += 1;
    var base = Math.max(said, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, state.retryStep - 1)));
    wait = base + Math.random() * (base / 2);
  }
  state.retryAt = Math.max(state.retryAt, Date.now() + wait);
  flushPending(); // arms the timer that sends what waits, then
}

// A message of ours refused for now stays pending and goes again when held back for (flushPending); the
// customer is told. false: not one of ours (a part's frame, or the hello's refusal).
function retryLater(frame) {
  var item = null;
  for (var i = 0; i < state.pending.length; i++) {
    if (state.pending[i].client_id === frame.client_id) {
      item = state.pending[i];
    }
  }
  if (frame.code === "unavailable" && state.pending.length) {
    // its store is down (and the socket closing): every message waits, said in the visitor's words
    // until acknowledged, not as a line that may be dead
    state.pending.forEach(function (p) { p.held = true; });
    state.whenNote = false;
    state.slowNote = true;
    showNote(say("unavailable"));
  }
  if (!item) {
    return false;
  }
  item.held = true; // the server said why: that note stands, not the one of a message unanswered
  item.sentOn = 0;
  if (frame.code !== "unavailable") {
    state.slowNote = false;
    state.whenNote = true;
    showNote(say(REFUSED_FOR_NOW[frame.code], { n: Math.ceil((state.retryAt - Date.now()) / 1000) }));
  }
  return true;
}

// What is pending and not yet sent on this socket goes, in order, once its time has come.
function flushPending() {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  var wait = state.retryAt - Date.now();
  if (wait > 0) {
    state.retryTimer = setTimeout(flushPending, wait);
    return;
  }
  if (state.whenNote) { // "it will go in N s": it goes now
    state.whenNote = false;
    showNote("");
  }
  state.pending.forEach(function (item) {
    if (!state.ws || item.sentOn !== state.ws.serial) {
      transmit(item);
    }
  });
}

function transmit(item) {
  // a message typed while others wait for their time goes after them (flushPending), in order
  if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN && Date.now() >= state.retryAt) {
    item.held = false;
    item.sentOn = state.ws.serial;
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
