// omnirouter agent console. Every piece of text from customers or agents is
// put on the page with textContent, never as HTML.
"use strict";

const state = { me: null, filter: "open", conversations: new Map(), selected: null, messageIds: new Set(), ws: null, retry: 0 };
const $ = (sel) => document.querySelector(sel);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (resp.status === 401 && path !== "/api/login") showLogin();
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function relative(ts) {
  const seconds = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
  if (seconds < 60) return "now";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
  return new Date(ts).toLocaleDateString();
}

function clock(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// ---- login -------------------------------------------------------------

function showLogin() {
  state.me = null;
  if (state.ws) state.ws.close();
  $("#app").hidden = true;
  $("#login").hidden = false;
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  $('[data-testid="login-error"]').textContent = "";
  try {
    const data = await api("POST", "/api/login", { username: form.username.value, password: form.password.value });
    form.password.value = "";
    await start(data.agent);
  } catch (err) {
    $('[data-testid="login-error"]').textContent = err.message;
  }
}

async function start(agent) {
  state.me = agent;
  $("#me").textContent = agent.display_name + (agent.role === "admin" ? " (admin)" : "");
  $("#login").hidden = true;
  $("#app").hidden = false;
  connect();
  await loadConversations();
}

// ---- conversation list -------------------------------------------------

function matchesFilter(conv) {
  if (state.filter === "open") return conv.status !== "resolved";
  if (state.filter === "mine") return conv.status === "assigned" && state.me && conv.agent_id === state.me.id;
  return conv.status === state.filter;
}

async function loadConversations() {
  const status = state.filter === "mine" ? "assigned" : state.filter;
  const data = await api("GET", "/api/conversations?status=" + encodeURIComponent(status));
  state.conversations = new Map(data.conversations.map((c) => [c.id, c]));
  renderList();
}

function conversationRow(conv) {
  const li = el("li");
  li.dataset.testid = "conversation";
  li.dataset.id = conv.id;
  if (conv.id === state.selected) li.classList.add("selected");
  li.append(el("span", "name", conv.customer_name || "Visitor"), el("span", "time", relative(conv.last_message_at)));
  const preview = el("span", "preview");
  preview.append(el("span", "badge " + conv.status, conv.status), el("span", "", conv.channel + " · "));
  preview.append(document.createTextNode(conv.last_message_text || ""));
  li.append(preview);
  li.addEventListener("click", () => select(conv.id));
  return li;
}

function renderList() {
  const list = $("#conversations");
  const rows = [...state.conversations.values()].filter(matchesFilter)
    .sort((a, b) => (a.last_message_at < b.last_message_at ? 1 : -1));
  list.replaceChildren(...rows.map(conversationRow));
  $("#empty-list").hidden = rows.length > 0;
}

function upsertConversation(conv) {
  state.conversations.set(conv.id, conv);
  renderList();
  if (conv.id === state.selected) renderHeader(conv);
}

// ---- one conversation ----------------------------------------------------

function renderHeader(conv) {
  $("#conv-title").textContent = conv.customer_name || "Visitor";
  const owner = conv.agent_id ? (conv.agent_id === (state.me && state.me.id) ? "you" : conv.agent_id) : "nobody";
  $("#conv-meta").textContent = `${conv.channel} · ${conv.status} · team ${conv.team || "—"} · assigned to ${owner}`;
  $('[data-testid="take"]').hidden = conv.status !== "queued" && conv.status !== "bot";
  $('[data-testid="resolve"]').hidden = conv.status === "resolved";
  $("#reply-form").hidden = conv.status === "resolved";
}

function deliveryText(msg) {
  if (msg.direction !== "out") return "";
  if (msg.delivery === "failed") return " · not delivered: " + (msg.delivery_error || "unknown reason");
  return " · " + msg.delivery;
}

function messageRow(msg) {
  const li = el("li", msg.direction === "out" ? "out" : "in");
  li.dataset.testid = "message";
  li.dataset.id = msg.id;
  li.dataset.author = msg.author;
  const who = msg.author === "agent" ? (msg.extras && msg.extras.agent_name) || "agent" : msg.author;
  const meta = el("span", msg.delivery === "failed" ? "meta failed" : "meta", `${who} · ${clock(msg.created_at)}${deliveryText(msg)}`);
  const bubble = el("div", "bubble", msg.text);
  bubble.dataset.testid = "message-text";
  li.append(bubble, meta);
  return li;
}

function appendMessage(msg) {
  const list = $("#messages");
  const existing = list.querySelector(`li[data-id="${CSS.escape(msg.id)}"]`);
  if (existing) {
    existing.replaceWith(messageRow(msg));
    return;
  }
  state.messageIds.add(msg.id);
  list.append(messageRow(msg));
  list.scrollTop = list.scrollHeight;
}

async function select(id) {
  state.selected = id;
  state.messageIds = new Set();
  renderList();
  $("#placeholder").hidden = true;
  $("#conversation").hidden = false;
  $("#messages").replaceChildren();
  $("#reply-error").textContent = "";
  const [detail, messages] = await Promise.all([
    api("GET", `/api/conversations/${encodeURIComponent(id)}`),
    api("GET", `/api/conversations/${encodeURIComponent(id)}/messages`),
  ]);
  if (state.selected !== id) return;
  renderHeader(detail.conversation);
  messages.messages.forEach(appendMessage);
}

async function act(path, body) {
  $("#reply-error").textContent = "";
  try {
    return await api("POST", `/api/conversations/${encodeURIComponent(state.selected)}/${path}`, body);
  } catch (err) {
    $("#reply-error").textContent = err.message;
    return null;
  }
}

async function onReply(event) {
  event.preventDefault();
  const box = $('[data-testid="reply"]');
  const text = box.value.trim();
  if (!text || !state.selected) return;
  const data = await act("messages", { text });
  if (data) {
    box.value = "";
    appendMessage(data.message);
  }
}

// ---- live updates --------------------------------------------------------

function onEvent(event) {
  const data = event.data || {};
  if (data.conversation) upsertConversation(data.conversation);
  if (data.message && data.message.conversation_id === state.selected) appendMessage(data.message);
}

function setLive(status) {
  const live = $('[data-testid="live"]');
  live.dataset.state = status;
  live.textContent = status === "online" ? "live" : "reconnecting…";
}

function connect() {
  if (!state.me) return;
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws");
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 0;
    setLive("online");
    loadConversations().catch(() => {}); // catch up on what happened while we were away
    if (state.selected) select(state.selected).catch(() => {});
  };
  ws.onmessage = (msg) => onEvent(JSON.parse(msg.data));
  ws.onclose = () => {
    if (state.ws !== ws || !state.me) return;
    setLive("offline");
    const delay = Math.min(10000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  };
}

// ---- wiring -----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $('[data-testid="login-form"]').addEventListener("submit", onLogin);
  $("#reply-form").addEventListener("submit", onReply);
  $('[data-testid="reply"]').addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) onReply(e);
  });
  $('[data-testid="take"]').addEventListener("click", async () => {
    const data = await act("assign", {});
    if (data) upsertConversation(data.conversation);
  });
  $('[data-testid="resolve"]').addEventListener("click", async () => {
    const data = await act("resolve");
    if (data) upsertConversation(data.conversation);
  });
  $('[data-testid="logout"]').addEventListener("click", async () => {
    await api("POST", "/api/logout").catch(() => {});
    showLogin();
  });
  document.querySelectorAll(".tabs button").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tabs button").forEach((t) => t.classList.toggle("active", t === tab));
    state.filter = tab.dataset.filter;
    loadConversations();
  }));
  setInterval(renderList, 30000);
  try {
    const data = await api("GET", "/api/me");
    await start(data.agent);
  } catch {
    showLogin();
  }
});
