// omnirouter agent console: plain JS, no build step, no inline script (CSP).
// Every text from customers, agents or the API reaches the page through
// textContent (see el()), never as HTML: customer markup stays text.
"use strict";

// each tab's question to the server: "Mine" is the server's filter, a page at a time
// (a page of everyone's filtered here hid an agent's own past its first 200)
const FILTERS = { open: "status=open", queued: "status=queued", mine: "status=assigned&assignee=me",
  resolved: "status=resolved" };
// how far a message is on its way; a late answer never takes it back
const DELIVERY_RANK = { received: 0, pending: 1, sent: 2, delivered: 3, failed: 3, read: 4 };

const state = {
  me: null,
  agents: new Map(),        // id -> display name
  filter: "open",
  conversations: new Map(), // id -> ConversationView
  arrived: null,            // while the list loads: id -> ConversationView pushed meanwhile
  selected: null,
  messages: new Map(),      // id -> Message of the selected conversation
  ws: null,
  retry: 0,
  sending: false,
  leaving: false,           // the agent pressed Log out
  loaded: null,             // the conversation whose history is drawn (null: still loading)
  early: new Map(),         // id -> Message of the selected conversation pushed while its history loads
  next: null,               // the cursor of the tab's next page (null: no more)
};

const $ = (sel) => document.querySelector(sel);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// ---- API ---------------------------------------------------------------

async function api(method, path, body) {
  try {
    return await window.consoleApi.call(method, path, body);
  } catch (err) {
    if (err.status === 401 && path !== "/api/login" && state.me) showLogin();
    throw err;
  }
}

// ---- formatting --------------------------------------------------------

const relativeTime = (ts) => fmt.relative(ts);
const clockTime = (ts) => fmt.time(ts);
const dayLabel = (ts) => fmt.day(ts);

// the name the customer gave, else a stable label ("Посетитель · 3f2a": the
// end of their id, the same on every screen), never a platform token
function customerName(conv) {
  return window.customerLabel(conv.customer_name, conv.customer_id);
}

function agentName(id) {
  if (!id) return t("agents.nobody");
  if (state.me && id === state.me.id) return t("agents.you");
  return state.agents.get(id) || t("agents.another");
}

const statusText = (status) => t(`status.${status}`);
const channelText = (channel) => window.channelSwitch.label(channel);

function avatar(name, key, className) {
  const node = el("span", `avatar ${className || ""}`, initials(name));
  let hash = 0;
  for (const ch of String(key || name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  node.classList.add(`av-${hash % 8}`);
  return node;
}

function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => [...p][0]).join("") || "?";
}

// ---- login and start ---------------------------------------------------

// Someone was signed in here and no longer is: they logged out, or their session ended (a 401).
// On a desk PC a shift shares, nothing of theirs may stay for the next person: the conversation
// open, its notes, the customer panel, drafts, alerts, search, screens. A dozen scripts hold
// those; a fresh load of the page forgets them all at once (as a change of language does) and,
// its /api/me a 401, shows the sign-in. The fields are emptied first and the load is a new one,
// not a reload, so no browser puts a typed draft back (Firefox restores fields on a reload).
// ended: the session ended without the agent's Log out (it expired, was ended elsewhere): the
// sign-in the fresh load shows says so, else the agent finds the sign-in with no word of why.
function signedOut(ended) {
  state.me = null;
  if (state.ws) state.ws.close();
  state.ws = null;
  $("#app").hidden = true; // out of sight at once, before the page is loaded again
  document.querySelectorAll("#app textarea, #app input").forEach((field) => { field.value = ""; });
  if (ended && !state.leaving) window.sessionEnd.mark();
  location.replace(location.pathname + location.search);
}

function showLogin(ended = true) {
  if (state.me) return signedOut(ended);
  window.consoleApi.forget();
  if (state.ws) state.ws.close();
  state.ws = null;
  state.selected = null;
  $("#app").hidden = true;
  $("#login").hidden = false;
  document.title = "omnirouter";
  i18n.translate(document);
  window.sessionEnd.show($('[data-testid="login-notice"]'));
  $('[data-testid="login-form"] input[name="username"]').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  const error = $('[data-testid="login-error"]');
  const button = form.querySelector('button[type="submit"]');
  const invalid = (yes) => [form.username, form.password].forEach((f) => f.setAttribute("aria-invalid", String(yes)));
  error.textContent = "";
  invalid(false);
  button.disabled = true;
  try {
    const data = await api("POST", "/api/login", { username: form.username.value.trim(), password: form.password.value });
    form.password.value = "";
    await start(data.agent);
  } catch (err) {
    error.textContent = i18n.error(err); // also the lock-out's "try again in N s"
    invalid(true);
    form.password.select();
  } finally {
    button.disabled = false;
  }
}

async function start(agent) {
  state.me = agent;
  // the agent's own language wins over the browser's
  if (agent.language && agent.language !== i18n.lang) await i18n.use(agent.language);
  $('[data-testid="language"]').value = i18n.lang;
  $("#me-name").textContent = agent.display_name;
  $("#me-role").textContent = t(`roles.${agent.role}`);
  $("#me-avatar").replaceWith(Object.assign(avatar(agent.display_name, agent.id, "small"), { id: "me-avatar" }));
  $("#login").hidden = true;
  $("#app").hidden = false;
  await loadAgents().catch(() => {});
  // channels.js and teams.js: the channels' names and the teams' titles
  await Promise.all([window.channelSwitch.load().catch(() => {}), window.teamNames.load().catch(() => {})]);
  connect();
  await loadConversations();
}

async function loadAgents() {
  const data = await api("GET", "/api/agents");
  state.agents = new Map(data.agents.map((a) => [a.id, a.display_name]));
}

// ---- conversation list -------------------------------------------------

function matchesFilter(conv) {
  if (state.filter !== "resolved" && window.searchUI && !window.searchUI.visible(conv)) return false; // snoozed
  if (state.filter === "open") return conv.status !== "resolved";
  if (state.filter === "mine") return conv.status === "assigned" && state.me && conv.agent_id === state.me.id;
  return conv.status === state.filter;
}

async function loadConversations() {
  // a change pushed while the list loads may be newer than the list the server
  // read: kept, not wiped by the answer (an offer made as the agent opened "Mine")
  const arrived = new Map();
  state.arrived = arrived;
  const data = await api("GET", `/api/conversations?${FILTERS[state.filter]}`);
  if (state.arrived === arrived) state.arrived = null;
  state.next = data.next;
  const loaded = new Map(data.conversations.map((c) => [c.id, c]));
  for (const [id, conv] of arrived) {
    const listed = loaded.get(id);
    if (!listed || listed.updated_at <= conv.updated_at) loaded.set(id, conv);
  }
  state.conversations = loaded;
  renderList();
}

// the tab's next page, after the rows shown (a row pushed live meanwhile stays as it is)
async function loadMore() {
  const filter = state.filter;
  const cursor = state.next;
  if (!cursor) return;
  const data = await api("GET", `/api/conversations?${FILTERS[filter]}&cursor=${encodeURIComponent(cursor)}`);
  if (state.filter !== filter || state.next !== cursor) return;
  const added = data.conversations.filter((conv) => !state.conversations.has(conv.id));
  for (const conv of added) state.conversations.set(conv.id, conv);
  state.next = data.next;
  renderList(added.length ? added[0].id : null); // the keyboard goes on at the first row added
}

function moreRow() {
  const li = el("li", "conv-more");
  const button = el("button", "btn ghost", t("more.list"));
  button.type = "button";
  button.dataset.testid = "list-more";
  button.addEventListener("click", () => loadMore().catch(showActionError));
  li.append(button);
  return li;
}

// a list item holding a real button: a screen reader hears a list of n items (a role on the
// <li> itself would hide the list), and the button takes Enter and Space as any button does
function conversationRow(conv) {
  const li = el("li", "conv-item");
  const row = el("button", "conv");
  row.type = "button";
  row.dataset.testid = "conversation";
  row.dataset.id = conv.id;
  const selected = conv.id === state.selected;
  row.classList.toggle("selected", selected);
  if (selected) row.setAttribute("aria-current", "true");
  const tags = el("span", "conv-tags");
  tags.append(el("span", `badge ${conv.status}`, statusText(conv.status)), el("span", "channel", channelText(conv.channel)));
  row.append(
    avatar(customerName(conv), conv.customer_id),
    el("span", "conv-name", customerName(conv)),
    el("span", "conv-time", relativeTime(conv.last_message_at)),
    tags,
    el("span", "conv-preview", window.i18n.described(conv.last_message_text)),
  );
  if (window.searchUI) window.searchUI.decorateRow(row, conv); // search.js: its labels
  li.append(row);
  return li;
}

// firstNew: the row "Show more" added first, where the keyboard's focus goes on
function renderList(firstNew = null) {
  const rows = [...state.conversations.values()].filter(matchesFilter)
    .sort((a, b) => (a.last_message_at < b.last_message_at ? 1 : -1));
  const list = $("#conversations");
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  list.replaceChildren(...rows.map(conversationRow), ...(state.next ? [moreRow()] : []));
  $("#empty-list").hidden = rows.length > 0;
  if (focused) keepFocus(list, focused, firstNew);
  // signals.js: each row's unread count and the tab title's total
}

// the rows are built anew, which would drop the keyboard's focus to <body>: it stays on the same
// row (by id) or the "Show more" button, or goes to the first row a page added
function keepFocus(list, focused, firstNew) {
  const row = (id) => id && list.querySelector(`[data-testid="conversation"][data-id="${CSS.escape(id)}"]`);
  const was = focused.closest('[data-testid="conversation"]');
  const target = row(firstNew) || (was && row(was.dataset.id))
    || list.querySelector('[data-testid="list-more"]') || list.querySelector('[data-testid="conversation"]');
  if (target) target.focus();
}

function upsertConversation(conv) {
  state.conversations.set(conv.id, conv);
  if (state.arrived) state.arrived.set(conv.id, conv);
  if (conv.agent_id && !state.agents.has(conv.agent_id)) loadAgents().then(renderSelectedHeader, () => {});
  drawListSoon(); // rowpress.js: a burst of events is one draw
  if (conv.id === state.selected) renderHeader(conv);
}

// a click, or Enter or Space on the row's button (which the browser turns into a click)
function onListActivate(event) {
  const row = event.target.closest('[data-testid="conversation"]');
  if (!row) return;
  select(row.dataset.id).catch(showActionError);
}

async function setFilter(tab) {
  document.querySelectorAll(".tabs button").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
  state.filter = tab.dataset.filter;
  await loadConversations();
}

// ---- one conversation --------------------------------------------------

function chip(text) {
  return el("span", "chip", text);
}

function renderHeader(conv) {
  const focused = document.activeElement;
  $("#conv-name").textContent = customerName(conv);
  $("#conv-avatar").replaceWith(Object.assign(avatar(customerName(conv), conv.customer_id), { id: "conv-avatar" }));
  const meta = $("#conv-meta");
  meta.replaceChildren(
    el("span", `badge ${conv.status}`, statusText(conv.status)),
    chip(channelText(conv.channel)),
    chip(t("conversation.team", { team: conv.team ? window.teamNames.label(conv.team) : "—" })),
    chip(t("conversation.assignee", { name: agentName(conv.agent_id) })),
  );
  const resolved = conv.status === "resolved";
  $('[data-testid="take"]').hidden = conv.status !== "queued" && conv.status !== "bot";
  $('[data-testid="resolve"]').hidden = resolved;
  $('[data-testid="reopen"]').hidden = !resolved;
  $('[data-testid="to-bot"]').hidden = conv.status !== "queued" && conv.status !== "assigned";
  $("#reply-form").hidden = resolved;
  $("#resolved-note").hidden = !resolved;
  if (window.searchUI) window.searchUI.decorateHeader(conv); // search.js: labels and snooze
  if (window.supervisorUI) window.supervisorUI.decorateHeader(conv); // supervisor.js: reassign
  if (window.reopenUI) window.reopenUI.decorateHeader(conv); // reopen.js: the customer reopened it
  window.keepHeaderFocus(focused); // focus.js: the keyboard never falls to <body>
}

function renderSelectedHeader() {
  const conv = state.conversations.get(state.selected);
  if (conv) renderHeader(conv);
}

function deliveryNode(msg) {
  if (msg.direction !== "out") return null;
  if (msg.delivery === "failed") {
    const node = el("span", "delivery failed", t("delivery.failed", { reason: msg.delivery_error ? i18n.deliveryReason(msg.delivery_error) : t("delivery.unknown_reason") }));
    if (msg.delivery_error) node.title = i18n.deliveryDetail(msg.delivery_error); // the platform's own words
    return node;
  }
  return el("span", `delivery ${msg.delivery}`, i18next.exists(`delivery.${msg.delivery}`) ? t(`delivery.${msg.delivery}`) : msg.delivery);
}

function authorName(msg) {
  if (msg.author === "agent") return (msg.core && msg.core.agent_name) || agentName(msg.agent_id);
  if (msg.author === "customer") return customerName(state.conversations.get(msg.conversation_id) || {});
  return msg.author === "bot" ? t("authors.bot") : t("authors.system");
}

function botNote(msg) {
  // what the bot understood, for the agent who takes over (text only, never HTML)
  const bot = msg.author === "bot" && msg.core && msg.core.bot;
  if (!bot || !bot.intent) return null;
  const confidence = typeof bot.confidence === "number" ? ` ${fmt.number(bot.confidence, { style: "percent" })}` : "";
  const span = el("span", "bot-note", `${bot.kind}: ${bot.intent}${confidence}`);
  span.dataset.testid = "bot-note";
  return span;
}

function messageRow(msg) {
  const li = el("li", `msg ${msg.direction} ${msg.author}`);
  li.dataset.testid = "message";
  li.dataset.id = msg.id;
  li.dataset.author = msg.author;
  li.dataset.delivery = msg.delivery;
  li.dataset.ts = msg.created_at; // notes.js puts a note among the messages by time
  li.classList.toggle("failed", msg.delivery === "failed");
  // the customer's words, or the connector's description of a message without any ("[photo]")
  const description = msg.extras && typeof msg.extras.description === "string" ? msg.extras.description : "";
  const bubble = el("div", msg.text ? "bubble" : "bubble described", msg.text || window.i18n.described(description));
  bubble.dataset.testid = "message-text";
  const meta = el("div", "msg-meta");
  meta.append(el("span", "", authorName(msg)), el("span", "", clockTime(msg.created_at)));
  const delivery = deliveryNode(msg);
  if (delivery) meta.append(delivery);
  const understood = botNote(msg);
  if (understood) meta.append(understood);
  // a reply of files only has no words to show
  const quoted = quotesNode(msg.extras && msg.extras.quoted);
  li.append(...[msg.text || description ? bubble : null, quoted, wholeTextNode(msg), attachmentsNode(msg), meta]
    .filter(Boolean));
  return li;
}

function newer(current, incoming) {
  // the POST answer and the websocket race: keep whichever is further along
  return !current || (DELIVERY_RANK[incoming.delivery] || 0) >= (DELIVERY_RANK[current.delivery] || 0);
}

// a message of the open conversation (pushed, or a reply's answer); one that comes while its history
// is still loading is drawn after that history, not above it as the first of the thread
function showMessage(msg) {
  if (msg.conversation_id !== state.selected) return;
  if (state.loaded === state.selected) drawMessage(msg);
  else if (newer(state.early.get(msg.id), msg)) state.early.set(msg.id, msg);
}

function drawMessage(msg) {
  if (msg.conversation_id !== state.selected || !newer(state.messages.get(msg.id), msg)) return;
  const list = $("#messages");
  const existing = list.querySelector(`li[data-id="${CSS.escape(msg.id)}"]`);
  state.messages.set(msg.id, msg);
  if (existing) {
    existing.replaceWith(messageRow(msg));
    return;
  }
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const last = [...state.messages.values()].at(-2);
  if (!last || dayLabel(last.created_at) !== dayLabel(msg.created_at)) list.append(el("li", "day", dayLabel(msg.created_at)));
  const moved = window.channelSwitch.node(msg, [...state.messages.values()]);
  if (moved) list.append(moved);
  list.append(messageRow(msg));
  if (atBottom || msg.direction === "out") list.scrollTop = list.scrollHeight;
}

// focus: the reply box takes the keyboard (not when moving through the list by keys)
async function select(id, { focus = true } = {}) {
  state.selected = id;
  state.messages = new Map();
  renderList();
  $("#placeholder").hidden = true;
  $("#conversation").hidden = false;
  $("#messages").replaceChildren();
  $("#reply-error").textContent = "";
  hideWindowNotice();
  document.dispatchEvent(new CustomEvent("conversation:selected", { detail: { id } })); // routing.js
  const from = document.activeElement; // what opened it: a row, a search hit, a mention
  if (!(await loadThread(id))) return; // another row was clicked meanwhile
  $("#messages").scrollTop = $("#messages").scrollHeight;
  // an agent who took the keyboard elsewhere while it loaded (the transfer list) keeps it there
  const at = document.activeElement;
  const stayed = !at || at === from || at === document.body || $("#conversations").contains(at);
  if (focus && stayed) $('[data-testid="reply"]').focus();
}

// The open conversation read again in place (the live socket is back): what came meanwhile joins
// the thread, while the agent's place in it, the focus, the reply's files and the panels stay as
// they were (opening it anew dropped the files picked for the reply, took the keyboard, and on a
// phone put the conversation over the list the agent was looking at).
async function refreshSelected() {
  const id = state.selected;
  if (!id || state.loaded !== id) return; // still loading: that read is recent enough
  try {
    await loadThread(id);
  } finally {
    // unread (the network went again): the thread stays usable, with what was pushed meanwhile
    if (state.selected === id && state.loaded === null) drawEarly(id);
  }
}

// the conversation and its history read and drawn (into a thread already shown, in place); a
// message pushed meanwhile waits in state.early until then. False when another was selected.
async function loadThread(id) {
  state.loaded = null;
  state.early = new Map();
  const [detail, history] = await Promise.all([
    api("GET", `/api/conversations/${encodeURIComponent(id)}`),
    api("GET", `/api/conversations/${encodeURIComponent(id)}/messages`),
  ]);
  if (state.selected !== id) return false;
  // a Take (or a pushed change) while it was read is newer than the read: kept, not undone
  const known = state.conversations.get(id);
  const conv = known && known.updated_at > detail.conversation.updated_at ? known : detail.conversation;
  state.conversations.set(id, conv);
  renderHeader(conv);
  history.messages.forEach(drawMessage);
  drawEarly(id);
  document.dispatchEvent(new CustomEvent("conversation:loaded", { detail: { id } })); // notes.js
  return true;
}

// what came while the history loaded: a message the history already had is drawn again in its place
function drawEarly(id) {
  state.early.forEach(drawMessage);
  state.early = new Map();
  state.loaded = id;
}

// ---- actions -----------------------------------------------------------

function showActionError(err) {
  $("#reply-error").textContent = i18n.error(err);
}

async function act(path, body) {
  $("#reply-error").textContent = "";
  const data = await api("POST", `/api/conversations/${encodeURIComponent(state.selected)}/${path}`, body);
  if (data && data.conversation) upsertConversation(data.conversation);
  return data;
}

// the customer's last word still waits for an answer: resolving would leave it unanswered
function unanswered() {
  const shown = [...state.messages.values()].filter((m) => m.author !== "system");
  const last = shown.at(-1);
  return Boolean(last && last.direction === "in" && last.author === "customer");
}

async function resolveSelected() {
  // before its history is drawn nobody can tell whether the customer's last word is answered
  // (a quick "e" after "j"): nothing is resolved unseen
  if (state.loaded !== state.selected) return;
  if (unanswered() && !window.confirm(t("conversation.resolve_unanswered"))) return;
  // the last message seen: one the customer sends while this is on its way refuses it (409), and asks again
  const seen = [...state.messages.keys()].at(-1);
  try {
    await act("resolve", seen ? { seen_message_id: seen } : {});
  } catch (err) {
    if (err.code !== "unanswered_message") throw err;
    // a plural text (i18n.error looks the bare key up, which plurals do not have)
    if (window.confirm(t("errors.unanswered_message", { count: err.details.count }))) await act("resolve", {});
  }
}

async function changeLanguage(lang) {
  await api("PATCH", "/api/me", { language: lang });
  location.reload(); // every screen drawn again in the new language
}

async function sendReply(event) {
  event.preventDefault();
  if (window.notes && window.notes.isNoteMode()) return window.notes.submit(); // a private note: never a reply
  const box = $('[data-testid="reply"]');
  const text = box.value.trim();
  const files = window.composerFiles ? window.composerFiles.ids() : []; // files.js
  if ((!text && !files.length) || !state.selected || state.sending) return;
  if (window.composerFiles && window.composerFiles.busy()) return;
  state.sending = true;
  $('[data-testid="send"]').disabled = true;
  try {
    const channel = $("#reply-channel").value; // customer.js fills it; "" = the channel used last
    const body = channel ? { text, channel } : { text };
    if (files.length) body.files = files;
    const data = await act("messages", body);
    box.value = "";
    if (window.composerFiles) window.composerFiles.clear();
    autoGrow();
    hideWindowNotice();
    showMessage(data.message);
  } catch (err) {
    if (err.code === "reply_window_closed") showWindowNotice(err);
    else showActionError(err);
  } finally {
    state.sending = false;
    $('[data-testid="send"]').disabled = false;
    box.focus();
  }
}

function autoGrow() {
  const box = $('[data-testid="reply"]');
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight + 2, 200)}px`;
}

// ---- live updates ------------------------------------------------------

function onEvent(event) {
  document.dispatchEvent(new CustomEvent("console:event", { detail: event })); // customer.js
  const data = event.data || {};
  if (data.conversation) upsertConversation(data.conversation);
  const msg = data.message;
  if (!msg) return;
  if (msg.conversation_id === state.selected) showMessage(msg);
}

// ---- wiring ------------------------------------------------------------

function wire() {
  $('[data-testid="login-form"]').addEventListener("submit", onLogin);
  // my own role changed (api.js asked /api/me again): the role under my name follows it
  document.addEventListener("console:permissions", (event) => {
    const agent = event.detail.agent;
    if (state.me && agent.id === state.me.id) $("#me-role").textContent = t(`roles.${agent.role}`);
  });
  $("#reply-form").addEventListener("submit", sendReply);
  const box = $('[data-testid="reply"]');
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) sendReply(e);
  });
  box.addEventListener("input", autoGrow);
  $("#conversations").addEventListener("click", onListActivate);
  $('[data-testid="take"]').addEventListener("click", () => act("assign", {}).catch(showActionError));
  $('[data-testid="resolve"]').addEventListener("click", () => resolveSelected().catch(showActionError));
  $('[data-testid="reopen"]').addEventListener("click", () => act("reopen").catch(showActionError));
  $('[data-testid="language"]').addEventListener("change", (e) => changeLanguage(e.target.value).catch(showActionError));
  $('[data-testid="to-bot"]').addEventListener("click", () => act("bot").catch(showActionError));
  // customer.js opens another customer's conversation (a link on the panel)
  document.addEventListener("conversation:open",
    (event) => select(event.detail.id, { focus: event.detail.focus !== false }).catch(showActionError));
  $('[data-testid="logout"]').addEventListener("click", async () => {
    state.leaving = true; // the socket the logout closes may find the session gone first: no "ended" word
    await api("POST", "/api/logout").catch(() => {});
    showLogin(false);
  });
  document.querySelectorAll(".tabs button").forEach((tab) => tab.addEventListener("click", () => setFilter(tab)));
  setInterval(renderList, 30000); // keeps the relative times true
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    await i18n.use(i18n.browserLanguage());
  } catch {
    // no catalogue, no words: say so in both languages rather than show a blank page
    document.body.textContent = "Консоль не загрузилась: обновите страницу. The console did not load: reload the page.";
    return;
  }
  wire();
  try {
    const data = await api("GET", "/api/me");
    await start(data.agent);
  } catch {
    showLogin();
  }
});
