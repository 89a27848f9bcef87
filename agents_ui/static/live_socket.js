// omnirouter agent console: the live socket (WS /api/ws) that pushes every event to
// console.js's onEvent, with its "Live" / "Reconnecting…" mark and its reconnection.
// It shares console.js's globals (state, api, onEvent, loadConversations, select).
"use strict";

function setLive(online) {
  const live = $('[data-testid="live"]');
  live.dataset.state = online ? "online" : "offline";
  live.querySelector(".live-text").textContent = online ? t("live.online") : t("live.reconnecting");
}

function connect() {
  if (!state.me) return;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/ws`);
  state.ws = ws;
  ws.onopen = () => onOpen(ws);
  ws.onmessage = (frame) => onEvent(JSON.parse(frame.data));
  ws.onclose = () => onClose(ws);
}

// another script's frame on the live socket (wallboard.js subscribes), when it is open
window.consoleSend = (frame) => state.ws && state.ws.readyState === WebSocket.OPEN && state.ws.send(JSON.stringify(frame));

function onOpen(ws) {
  const reconnected = state.retry > 0;
  state.retry = 0;
  setLive(true);
  // notes.js catches up on its mentions; routing.js reads presence again after a reconnect
  document.dispatchEvent(new CustomEvent("console:connected", { detail: { reconnected } }));
  ws.pingTimer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), 25000);
  // catch up on what happened before the socket was up (or while it was down)
  loadConversations().catch(() => {});
  if (reconnected && state.selected) select(state.selected).catch(() => {});
}

function onClose(ws) {
  clearInterval(ws.pingTimer);
  if (state.ws !== ws || !state.me) return;
  setLive(false);
  // exponential backoff with jitter, so a restarted server is not stampeded
  const delay = Math.min(15000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
  setTimeout(reconnect, delay);
}

async function reconnect() {
  if (!state.me) return;
  try {
    await api("GET", "/api/me"); // a session that ended shows the login instead of retrying forever
  } catch (err) {
    if (err.status !== 401) setTimeout(reconnect, Math.min(15000, 500 * 2 ** state.retry++));
    return;
  }
  connect();
}
