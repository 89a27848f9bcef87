// omnirouter agent console: the live socket (WS /api/ws) that pushes every event to
// console.js's onEvent, with its "Live" / "Reconnecting…" mark and its reconnection.
// It shares console.js's globals (state, api, onEvent, loadConversations, refreshSelected).
// A connection can die without a close (Wi-Fi gone, a laptop's lid shut): the browser may not
// notice for many minutes, while the mark would say "Live" and nothing came. So every ping
// must be answered before the next, the mark follows the browser's own online/offline, and a
// socket that slept with the computer is replaced at once.
"use strict";

const PING_EVERY_MS = 25000; // the server answers each ping with a pong
const PROBE_MS = 10000; // the network back: the socket must answer a ping this soon
// a ping's tick this much later than due: the computer slept (a hidden tab's timers may run
// only once a minute, so well above that)
const SLEPT_MS = 150000;
let retryTimer = null; // the reconnection waiting out its backoff

function setLive(online) {
  const live = $('[data-testid="live"]');
  live.dataset.state = online ? "online" : "offline";
  live.querySelector(".live-text").textContent = online ? t("live.online") : t("live.reconnecting");
}

function connect() {
  if (!state.me) return;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/ws`);
  state.ws = ws;
  ws.heard = true;
  ws.onopen = () => onOpen(ws);
  ws.onmessage = (frame) => onFrame(ws, frame);
  ws.onclose = () => onClose(ws);
}

function onFrame(ws, frame) {
  if (state.ws !== ws) return; // a socket given up: its late frames would count twice
  ws.heard = true;
  if (navigator.onLine && $('[data-testid="live"]').dataset.state !== "online") setLive(true);
  onEvent(JSON.parse(frame.data));
}

// another script's frame on the live socket (wallboard.js subscribes), when it is open
window.consoleSend = (frame) => state.ws && state.ws.readyState === WebSocket.OPEN && state.ws.send(JSON.stringify(frame));

function onOpen(ws) {
  const reconnected = state.retry > 0;
  state.retry = 0;
  setLive(true);
  // notes.js catches up on its mentions; routing.js reads presence again after a reconnect
  document.dispatchEvent(new CustomEvent("console:connected", { detail: { reconnected } }));
  ws.tick = Date.now();
  ws.pingTimer = setInterval(() => watch(ws), PING_EVERY_MS);
  // catch up on what happened before the socket was up (or while it was down)
  loadConversations().catch(() => {});
  if (reconnected) refreshSelected().catch(() => {});
}

// each tick: the last ping was answered (a pong, or any frame), else the connection is dead
function watch(ws) {
  const now = Date.now();
  const slept = now - ws.tick > SLEPT_MS;
  ws.tick = now;
  if (state.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
  if (!ws.heard || slept) {
    giveUp(ws);
    return;
  }
  ping(ws);
}

function ping(ws) {
  ws.heard = false;
  ws.send('{"type":"ping"}');
}

// closed by us, without waiting for a close the dead connection will never answer
function giveUp(ws) {
  ws.onmessage = null;
  ws.onclose = null;
  ws.close();
  onClose(ws);
}

function onClose(ws) {
  clearInterval(ws.pingTimer);
  if (state.ws !== ws || !state.me) return;
  setLive(false);
  // exponential backoff with jitter, so a restarted server is not stampeded
  later(Math.min(15000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2));
}

function later(delay) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    reconnect();
  }, delay);
}

async function reconnect() {
  if (!state.me) return;
  try {
    await api("GET", "/api/me"); // a session that ended shows the login instead of retrying forever
  } catch (err) {
    if (err.status !== 401) later(Math.min(15000, 500 * 2 ** state.retry++));
    return;
  }
  connect();
}

// the browser lost the network: said at once, not a ping later
window.addEventListener("offline", () => {
  if (state.me) setLive(false);
});

// the network is back: an open socket must answer a ping soon (else it is replaced), and a
// reconnection waiting out its backoff goes now
window.addEventListener("online", () => {
  if (!state.me) return;
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN) {
    ping(ws);
    setTimeout(() => {
      if (state.ws === ws && ws.readyState === WebSocket.OPEN && !ws.heard) giveUp(ws);
    }, PROBE_MS);
  } else if (retryTimer !== null) {
    later(0);
  }
});
