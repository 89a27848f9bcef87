// omnirouter console: live signals (router/signals). Typing both ways, unread
// counts that are true on every device (the server keeps each agent's read
// mark and counts from it), and alerts: a sound and a desktop notification
// when a conversation is offered or assigned to me, or queued in one of my
// teams. Every text comes from the catalogues (t()) and is set with textContent.
// The alert switches are kept in this browser (localStorage, per agent): the
// desk PC may ring while the laptop stays silent.
"use strict";

(() => {
  const TYPING_SHOWN_MS = 6000; // "Customer is typing…" goes by itself this long after the last signal
  const TYPING_EVERY_MS = 3000; // the agent's typing is told at most this often
  const READ_AFTER_MS = 250; // reads close together go as one
  const ALERT_AGAIN_MS = 60000; // one alert per conversation and kind within this long
  const SOUND = "/console/alert.wav";

  const s = {
    me: null,
    teams: new Set(), // the teams I am a member of
    selected: null,
    counts: new Map(), // conversation id -> unread (capped)
    mine: new Set(), // my open conversations: the title's total
    cap: 100,
    asking: new Set(), // ids whose counts are being fetched
    bumps: new Map(), // id -> messages counted here since: a count fetched meanwhile may miss them
    typingTimer: null,
    lastTyped: 0,
    readTimer: null,
    alerted: new Map(), // "kind:id" -> when
    shown: new Set(), // desktop notifications on screen, which show customers' words
    sound: null,
  };
  const $ = (sel) => document.querySelector(sel);

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  // ---- unread counts ---------------------------------------------------------

  function countText(n) {
    return n >= s.cap ? `${fmt.number(s.cap - 1)}+` : fmt.number(n);
  }

  function decorate(row) {
    const n = s.counts.get(row.dataset.id) || 0;
    let badge = row.querySelector('[data-testid="unread"]');
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "unread-count";
      badge.dataset.testid = "unread";
      (row.querySelector(".conv-tags") || row).append(badge);
    }
    badge.textContent = countText(n);
    badge.hidden = n === 0;
    badge.setAttribute("aria-label", t("signals.unread", { count: n }));
    row.classList.toggle("unread", n > 0);
  }

  function renderCounts() {
    const unknown = [];
    document.querySelectorAll('#conversations [data-testid="conversation"]').forEach((row) => {
      if (!s.counts.has(row.dataset.id) && !s.asking.has(row.dataset.id)) unknown.push(row.dataset.id);
      decorate(row);
    });
    let total = 0;
    s.mine.forEach((id) => { total += s.counts.get(id) || 0; });
    const base = document.title.replace(/^\([^)]*\) /, "");
    const title = total ? `(${countText(total)}) ${base}` : base;
    if (document.title !== title) document.title = title;
    if (unknown.length) fetchCounts(unknown).catch(() => {});
  }

  async function fetchCounts(ids) {
    ids = ids.slice(0, 500);
    ids.forEach((id) => s.asking.add(id));
    const before = new Map(ids.map((id) => [id, s.bumps.get(id) || 0]));
    const stale = [];
    try {
      const data = await call("GET", `/api/unread?ids=${encodeURIComponent(ids.join(","))}`);
      s.cap = data.cap;
      s.mine = new Set(data.mine);
      for (const [id, n] of Object.entries(data.unread)) {
        // a message that came while the count was on its way may or may not be in it: ask again
        if (before.has(id) && before.get(id) !== (s.bumps.get(id) || 0)) stale.push(id);
        else s.counts.set(id, id === s.selected && visible() ? 0 : n);
      }
    } finally {
      ids.forEach((id) => s.asking.delete(id));
    }
    renderCounts();
    if (stale.length) fetchCounts(stale).catch(() => {});
  }

  function refreshAll() {
    s.counts.clear();
    const ids = [...document.querySelectorAll('#conversations [data-testid="conversation"]')].map((r) => r.dataset.id);
    fetchCounts(ids).catch(() => {});
  }

  const visible = () => document.visibilityState === "visible";

  async function readNow(id) {
    const before = s.bumps.get(id) || 0;
    const read = await call("POST", `/api/conversations/${encodeURIComponent(id)}/read`, {}).catch(() => null);
    if (read && id !== s.selected && before !== (s.bumps.get(id) || 0)) {
      fetchCounts([id]).catch(() => {}); // a message came meanwhile: its count is the server's to say
    } else if (read) {
      s.counts.set(id, id === s.selected ? 0 : read.unread);
    }
    renderCounts();
  }

  // messages arriving in the open conversation: read together, shortly after
  function readSoon() {
    const id = s.selected;
    if (s.readTimer && s.readTimer.id === id) return;
    flushRead();
    s.readTimer = { id, timer: setTimeout(() => { s.readTimer = null; readNow(id); }, READ_AFTER_MS) };
  }

  function flushRead() {
    if (!s.readTimer) return;
    clearTimeout(s.readTimer.timer);
    const { id } = s.readTimer;
    s.readTimer = null;
    readNow(id);
  }

  function onMessage(msg) {
    if (!msg || msg.direction !== "in" || !msg.conversation_id) return;
    const id = msg.conversation_id;
    if (id === s.selected) hideTyping();
    if (id === s.selected && visible()) {
      readSoon();
    } else if (s.counts.has(id)) {
      s.counts.set(id, Math.min(s.cap, s.counts.get(id) + 1));
    }
    s.bumps.set(id, (s.bumps.get(id) || 0) + 1);
    renderCounts();
  }

  function track(conv) {
    const mine = conv.status === "assigned" && s.me && conv.agent_id === s.me.id;
    if (mine === s.mine.has(conv.id)) return;
    if (mine) {
      s.mine.add(conv.id);
      if (!s.counts.has(conv.id)) fetchCounts([conv.id]).catch(() => {});
    } else {
      s.mine.delete(conv.id);
    }
    renderCounts();
  }

  // ---- typing ----------------------------------------------------------------

  function indicator() {
    let node = document.getElementById("typing-indicator");
    if (!node) {
      node = document.createElement("p");
      node.id = "typing-indicator";
      node.className = "typing-indicator";
      node.dataset.testid = "typing-indicator";
      node.setAttribute("aria-live", "polite");
      node.hidden = true;
      const messages = document.getElementById("messages");
      if (messages) messages.after(node);
    }
    return node;
  }

  function showTyping(data) {
    if (data.conversation_id !== s.selected || data.author !== "customer") return;
    const node = indicator();
    node.textContent = t("signals.typing_customer");
    node.hidden = false;
    clearTimeout(s.typingTimer);
    s.typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }

  function hideTyping() {
    clearTimeout(s.typingTimer);
    const node = document.getElementById("typing-indicator");
    if (node) node.hidden = true;
  }

  // what is written for the agents' eyes only is never announced to the customer: a private note
  // (notes.js's mode, which it sets before it refills the box), or a "/" command (the canned
  // replies' lookup; a reply chosen there comes into the box by the console, not by typing)
  function quiet(text) {
    const form = document.getElementById("reply-form");
    if ((window.notes && window.notes.isNoteMode()) || (form && form.classList.contains("note-mode"))) return true;
    return text.trimStart().startsWith("/");
  }

  function onReplyInput(event) {
    if (!event.target.matches || !event.target.matches('[data-testid="reply"]')) return;
    // the console filling the box (a draft coming back, a switch of mode, a canned reply) is not typing
    if (!event.isTrusted) return;
    const now = Date.now();
    if (!s.selected || !event.target.value.trim() || quiet(event.target.value)
        || now - s.lastTyped < TYPING_EVERY_MS) return;
    s.lastTyped = now;
    call("POST", `/api/conversations/${encodeURIComponent(s.selected)}/typing`, {}).catch(() => {});
  }

  // ---- alerts ----------------------------------------------------------------

  function prefsKey() {
    return `omnirouter.alerts.${s.me ? s.me.id : "anonymous"}`;
  }

  function prefs() {
    const defaults = { sound: true, desktop: false };
    try {
      return { ...defaults, ...JSON.parse(localStorage.getItem(prefsKey()) || "{}") };
    } catch {
      return defaults;
    }
  }

  function savePrefs(next) {
    try {
      localStorage.setItem(prefsKey(), JSON.stringify(next));
    } catch {
      // private mode: the switches hold for this page only
    }
  }

  function desktopAllowed() {
    return "Notification" in window && Notification.permission === "granted";
  }

  function playSound() {
    s.sound = s.sound || new Audio(SOUND);
    s.sound.currentTime = 0;
    const played = s.sound.play();
    if (played && played.catch) played.catch(() => {}); // a browser that wants a click first stays silent
  }

  function notify(kind, title, body, conversationId) {
    const wanted = prefs();
    if (wanted.sound) playSound();
    if (wanted.desktop && desktopAllowed()) {
      try {
        const note = new Notification(String(title), { body: body == null ? "" : String(body), tag: conversationId || kind });
        s.shown.add(note);
        note.onclose = () => s.shown.delete(note);
        note.onclick = () => {
          window.focus();
          if (conversationId) document.dispatchEvent(new CustomEvent("conversation:open", { detail: { id: conversationId } }));
          note.close();
        };
      } catch {
        // a browser that only notifies from a service worker: the sound is the alert
      }
    }
    document.dispatchEvent(new CustomEvent("console:alert", { detail: { kind, title, body } }));
  }

  function alertOnce(kind, conv, title) {
    const key = `${kind}:${conv.id}`;
    const last = s.alerted.get(key);
    if (last && Date.now() - last < ALERT_AGAIN_MS) return;
    s.alerted.set(key, Date.now());
    const name = window.customerLabel(conv.customer_name, conv.customer_id);
    const body = conv.last_message_text ? `${name}: ${window.i18n.described(conv.last_message_text)}` : name;
    notify(kind, title, body, conv.id);
  }

  function maybeAlert(type, conv) {
    if (!s.me || !conv || conv.id === s.selected) return; // what I am looking at needs no alert
    if (type === 'conversation.assigned' && conv.status === "assigned" && conv.agent_id === s.me.id) {
      alertOnce("assigned", conv, t("signals.alert_assigned"));
    } else if (conv.status === "queued" && s.teams.has(conv.team)
               && (type === 'conversation.created' || type === 'conversation.updated')) {
      alertOnce("queued", conv, t("signals.alert_queued", { team: window.teamNames.label(conv.team) }));
    }
  }

  function bell() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.classList.add("alerts-icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z");
    svg.append(path);
    return svg;
  }

  function switchRow(testid, key, label) {
    const row = document.createElement("label");
    row.className = "alerts-switch";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.testid = testid;
    box.dataset.pref = key;
    const text = document.createElement("span");
    text.dataset.i18n = label;
    text.textContent = t(label);
    row.append(box, text);
    return row;
  }

  function buildMenu() {
    if ($('[data-testid="alerts"]')) return;
    const menu = document.createElement("details");
    menu.className = "alerts";
    menu.dataset.testid = "alerts";
    const summary = document.createElement("summary");
    summary.className = "btn ghost";
    summary.dataset.i18nAttr = "title:signals.alerts;aria-label:signals.alerts";
    summary.title = t("signals.alerts");
    summary.setAttribute("aria-label", t("signals.alerts"));
    summary.append(bell());
    const body = document.createElement("div");
    body.className = "alerts-menu";
    const note = document.createElement("p");
    note.className = "muted alerts-note";
    note.dataset.testid = "alerts-note";
    body.append(switchRow("alerts-sound", "sound", "signals.sound"),
      switchRow("alerts-desktop", "desktop", "signals.desktop"), note);
    menu.append(summary, body);
    menu.addEventListener("change", onSwitch);
    window.consolePopover.details(menu); // popover.js: Escape, a click elsewhere, inside the window
    // in the bar itself, before the "More" menu: a bell rung by the hour stays one click away
    const more = $('[data-testid="more"]');
    if (more) more.before(menu);
    showPrefs();
  }

  function showPrefs() {
    const wanted = prefs();
    const sound = $('[data-testid="alerts-sound"]');
    const desktop = $('[data-testid="alerts-desktop"]');
    if (!sound || !desktop) return;
    sound.checked = wanted.sound;
    desktop.checked = wanted.desktop && desktopAllowed();
    const denied = "Notification" in window && Notification.permission === "denied";
    $('[data-testid="alerts-note"]').textContent = denied ? t("signals.desktop_blocked") : "";
  }

  async function onSwitch(event) {
    const box = event.target;
    const wanted = prefs();
    wanted[box.dataset.pref] = box.checked;
    if (box.dataset.pref === "desktop" && box.checked && "Notification" in window
        && Notification.permission !== "granted") {
      // asked once, on the agent's own click: browsers allow it then
      wanted.desktop = (await Notification.requestPermission()) === "granted";
    }
    savePrefs(wanted);
    showPrefs();
  }

  // ---- the bot's health, for supervisors ------------------------------------
  // bot.failing (once per outage, router/bot/health.py): a banner until bot.recovered, and one alert

  const supervises = (me) => (me.permissions || []).includes("supervise");

  function botBanner(failing, data) {
    let banner = $('[data-testid="bot-failing"]');
    if (!failing) {
      if (banner) banner.remove();
      return;
    }
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "bot-failing";
      banner.dataset.testid = "bot-failing";
      banner.setAttribute("role", "alert");
      document.body.prepend(banner);
    }
    banner.textContent = t("signals.bot_failing_body", { failed: data.failed, answered: data.answered });
  }

  async function onBotHealth(type, data) {
    if (!supervises(await window.consoleApi.me())) return;
    const failing = type === 'bot.failing';
    botBanner(failing, data);
    if (failing) notify("bot", t("signals.bot_failing"), t("signals.bot_failing_body", data));
  }

  // ---- wiring ----------------------------------------------------------------

  // event types in single quotes: the catalogues' check reads "section.key" literals as keys to translate
  function onEvent(event) {
    const { type } = event.detail;
    const data = event.detail.data || {};
    switch (type) {
      case 'conversation.typing':
        showTyping(data);
        break;
      case 'conversation.read':
        if (s.me && data.agent_id === s.me.id) fetchCounts([data.conversation_id]).catch(() => {});
        break;
      case 'message.created':
        onMessage(data.message);
        break;
      case 'bot.failing':
      case 'bot.recovered':
        onBotHealth(type, data).catch(() => {});
        break;
      case 'agent.updated': // an admin may have changed my teams: the queues that alert me
        if (s.me && data.agent && data.agent.id === s.me.id) loadTeams().catch(() => {});
        break;
      default:
        break;
    }
    if (data.conversation) {
      maybeAlert(type, data.conversation);
      track(data.conversation);
    }
  }

  async function loadTeams() {
    const teams = await call("GET", "/api/teams");
    s.teams = new Set(teams.teams.filter((team) => team.members.includes(s.me.username)).map((team) => team.name));
  }

  async function begin() {
    s.me = (await window.consoleApi.me()).agent;
    s.teams = new Set();
    buildMenu();
    refreshAll();
    await loadTeams();
  }

  window.consoleAlerts = {
    // for the console's other scripts (a mention): the same sound and notification, as the agent set them
    notify: (kind, title, body) => notify(String(kind), title, body),
  };

  // the page goes (a sign-out loads it afresh, or the tab is closed): its notifications go with it,
  // rather than stay on the desk's screen, customers' words in them, for whoever signs in next
  window.addEventListener("pagehide", () => s.shown.forEach((note) => note.close()));
  document.addEventListener("console:event", onEvent);
  document.addEventListener("input", onReplyInput);
  document.addEventListener("conversation:selected", (event) => {
    s.selected = event.detail.id;
    s.lastTyped = 0;
    hideTyping();
    flushRead(); // the conversation left keeps what was read of it
    s.counts.set(s.selected, 0);
    renderCounts();
    readNow(s.selected);
  });
  // the socket opened again: messages that came while it was down bumped no count, so every count
  // shown is asked again (the rows loaded afresh by console.js are counted as they are drawn), and
  // what came meanwhile in the open conversation, which console.js draws into it, is read
  document.addEventListener("console:connected", (event) => {
    if (!event.detail || !event.detail.reconnected || !s.me) return;
    if (s.selected && visible()) readNow(s.selected);
    refreshAll();
  });
  document.addEventListener("visibilitychange", () => {
    if (!visible() || !s.me) return;
    if (s.selected) readNow(s.selected);
    refreshAll(); // what other devices read meanwhile
  });
  document.addEventListener("DOMContentLoaded", () => {
    const app = document.getElementById("app");
    const list = document.getElementById("conversations");
    if (!app || !list) return;
    new MutationObserver(renderCounts).observe(list, { childList: true });
    // the console shows #app after a login: that is when the agent is known
    new MutationObserver(() => {
      if (!app.hidden) begin().catch(() => {});
    }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
  });
})();
