// Private notes and @mentions in the console (router/notes/). A note is for
// colleagues only: it goes to /api/conversations/{id}/notes, never to the reply
// route, and is drawn in the thread apart from the messages (another colour,
// a label). Every text by textContent, never as HTML.
"use strict";

(function () {
  const MAX_SUGGESTIONS = 6;
  // "@prefix" just before the caret, not inside a word or an address (ann@example.com).
  // The server's rule (router/notes/service.py MENTION) word for word: Python's \w is
  // Unicode (a letter, a digit or "_"), so "заказ@bob" is no mention; JS's \w is ASCII,
  // hence \p{L}\p{N}_ with the u flag (tests/e2e/test_notes_console.py checks they agree)
  const TYPING_MENTION = /(^|[^\p{L}\p{N}_@.])@([A-Za-z0-9._-]{0,64})$/u;
  const MENTION = /(^|[^\p{L}\p{N}_@.])@([A-Za-z0-9._-]{1,64})/gu;

  const notes = {
    mode: "reply",             // the composer's: "reply" or "note"
    agents: [],                // every agent: {id, username, display_name}
    known: new Map(),          // the selected conversation's notes by id, drawn or waiting for its history
    drawn: false,              // its history is drawn: a note can be placed among its messages
    selected: null,            // the conversation on screen
    drafts: { reply: "", note: "" }, // the composer's text of the mode not shown: a note never becomes a reply
    ticket: 0,                 // the last request for the unread count sent, and the last applied:
    counted: 0,                // an older answer never overwrites a newer one
    me: null,                  // the agent logged in
    mentions: [],              // the Mentions view, newest first
    unread: 0,
    suggest: { items: [], index: 0, start: -1 },
    sending: false,
  };

  const $ = (sel) => document.querySelector(sel);
  const tr = (key, vars) => (typeof window.t === "function" ? window.t(key, vars) : key);
  const clock = (ts) => (window.fmt ? window.fmt.time(ts) : new Date(ts).toLocaleTimeString());
  const when = (ts) => (window.fmt ? window.fmt.relative(ts) : new Date(ts).toLocaleString());

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  function errorText(err) {
    // the catalogue's words for a known code, else the server's message
    return window.i18n ? window.i18n.error(err) : err.message;
  }

  // a text of ours that follows the console's language when it changes (i18n.js translates data-i18n)
  function said(node, key) {
    node.dataset.i18n = key;
    node.textContent = tr(key);
    return node;
  }

  // ---- the text of a note, its @mentions marked ----------------------------

  function noteText(text, mentioned) {
    const known = new Set(notes.agents.filter((a) => mentioned.includes(a.id)).map((a) => a.username.toLowerCase()));
    const body = el("div", "bubble note-text");
    body.dataset.testid = "note-text";
    let last = 0;
    for (const match of text.matchAll(MENTION)) {
      const at = match.index + match[1].length;
      const name = match[2].replace(/\.+$/, "");
      if (!known.has(name.toLowerCase())) continue; // an unknown @name is plain text
      body.append(document.createTextNode(text.slice(last, at)));
      body.append(el("span", "mention", `@${name}`));
      last = at + name.length + 1;
    }
    body.append(document.createTextNode(text.slice(last)));
    return body;
  }

  function noteRow(note) {
    const li = el("li", "msg note");
    li.dataset.testid = "note";
    li.dataset.id = note.id;
    li.dataset.ts = note.created_at;
    const label = said(el("span", "note-label"), "notes.label");
    label.dataset.testid = "note-label";
    const meta = el("div", "msg-meta");
    meta.append(label, el("span", "", note.agent_name), el("span", "", clock(note.created_at)));
    li.append(noteText(note.text, note.mentions || []), meta);
    return li;
  }

  // A note of the selected conversation is kept until its history is drawn
  // (one arriving live before would sit above the messages appended after it),
  // then placed among the messages by time.
  function place(note) {
    if (note.conversation_id !== notes.selected || notes.known.has(note.id)) return;
    notes.known.set(note.id, note);
    if (notes.drawn) draw(note);
  }

  // the history is drawn: every note known so far joins it, in time order
  function drawKnown() {
    notes.drawn = true;
    [...notes.known.values()]
      .sort((x, y) => Date.parse(x.created_at) - Date.parse(y.created_at))
      .forEach(draw);
  }

  // A note goes before the first message (or note) written after it (rows carry
  // data-ts); a day's heading stays above the messages of its day.
  function draw(note) {
    const list = $("#messages");
    if (!list || list.querySelector(`li[data-id="${CSS.escape(note.id)}"]`)) return;
    const row = noteRow(note);
    const at = Date.parse(note.created_at);
    const later = [...list.querySelectorAll("li[data-ts]")].find((li) => Date.parse(li.dataset.ts) > at);
    if (!later) {
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.append(row);
      if (atBottom) list.scrollTop = list.scrollHeight;
      return;
    }
    const before = later.previousElementSibling;
    const sameDay = new Date(later.dataset.ts).toDateString() === new Date(note.created_at).toDateString();
    list.insertBefore(row, before && before.classList.contains("day") && !sameDay ? before : later);
  }

  async function loadNotes(id) {
    const data = await call("GET", `/api/conversations/${encodeURIComponent(id)}/notes`);
    if (notes.selected !== id) return;
    data.notes.forEach(place);
  }

  // ---- the composer's Reply / Note switch ----------------------------------

  // the composer's words in either mode, as keys of the catalogue (the reply's are the console's own)
  const WORDS = {
    reply: { attrs: "placeholder:composer.placeholder;aria-label:composer.aria", send: "composer.send" },
    note: { attrs: "placeholder:notes.placeholder;aria-label:notes.note", send: "notes.add" },
  };

  function setMode(mode) {
    const next = mode === "note" ? "note" : "reply";
    const form = $("#reply-form");
    const box = $('[data-testid="reply"]');
    if (box && next !== notes.mode) {
      // each mode its own draft: a note half written never becomes a reply Enter sends
      notes.drafts[notes.mode] = box.value;
      box.value = notes.drafts[next];
      notes.drafts[next] = "";
      notes.mode = next;
      box.dispatchEvent(new Event("input")); // the box fits its text again
    }
    notes.mode = next;
    if (!form || !box) return;
    form.classList.toggle("note-mode", notes.mode === "note");
    form.querySelectorAll(".mode-switch button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.mode === notes.mode));
    });
    const words = WORDS[notes.mode];
    box.dataset.i18nAttr = words.attrs;
    for (const pair of words.attrs.split(";")) {
      const [attr, key] = pair.split(":");
      box.setAttribute(attr, tr(key));
    }
    const send = $('[data-testid="send"]');
    if (send) said(send, words.send);
    const channel = $("#reply-channel");
    if (channel) channel.hidden = notes.mode === "note"; // a note goes nowhere
    closeSuggestions();
  }

  function modeSwitch() {
    const group = el("div", "mode-switch");
    group.setAttribute("role", "group");
    group.dataset.i18nAttr = "aria-label:notes.mode";
    group.setAttribute("aria-label", tr("notes.mode"));
    for (const mode of ["reply", "note"]) {
      const button = said(el("button"), `notes.${mode}`);
      button.type = "button";
      button.dataset.mode = mode;
      button.dataset.testid = `mode-${mode}`;
      button.addEventListener("click", () => {
        setMode(mode);
        $('[data-testid="reply"]').focus();
      });
      group.append(button);
    }
    return group;
  }

  // console.js hands the composer's submit here while the switch says Note
  async function submit() {
    const box = $('[data-testid="reply"]');
    const error = $("#reply-error");
    const text = box.value.trim();
    if (!text || !notes.selected || notes.sending) return;
    notes.sending = true;
    $('[data-testid="send"]').disabled = true;
    error.textContent = "";
    try {
      const data = await call("POST", `/api/conversations/${encodeURIComponent(notes.selected)}/notes`, { text });
      box.value = "";
      box.dispatchEvent(new Event("input")); // the box shrinks back
      place(data.note);
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      notes.sending = false;
      $('[data-testid="send"]').disabled = false;
      box.focus();
    }
  }

  // ---- @ autocomplete --------------------------------------------------------

  function suggestionBox() {
    let box = $("#mention-suggestions");
    if (!box) {
      box = el("ul", "mention-suggestions");
      box.id = "mention-suggestions";
      box.dataset.testid = "mention-suggestions";
      box.setAttribute("role", "listbox");
      box.hidden = true;
      box.addEventListener("mousedown", (e) => {
        const item = e.target.closest("li[data-username]");
        if (!item) return;
        e.preventDefault(); // the box keeps its focus
        pick(notes.suggest.items.findIndex((a) => a.username === item.dataset.username));
      });
      $("#reply-form").append(box);
    }
    return box;
  }

  function closeSuggestions() {
    notes.suggest = { items: [], index: 0, start: -1 };
    const box = $("#mention-suggestions");
    if (box) box.hidden = true;
    linkSuggestions(false);
  }

  // the reply box names the @-list while it shows (aria-controls) and its active colleague
  // (aria-activedescendant): a screen reader reads the option the arrows reach
  function linkSuggestions(shown) {
    const reply = $('[data-testid="reply"]');
    if (!reply) return;
    if (shown) {
      reply.setAttribute("aria-controls", "mention-suggestions");
      reply.setAttribute("aria-activedescendant", `mention-suggestion-${notes.suggest.index}`);
    } else if (reply.getAttribute("aria-controls") === "mention-suggestions") {
      reply.removeAttribute("aria-controls");
      reply.removeAttribute("aria-activedescendant");
    }
  }

  function renderSuggestions() {
    const box = suggestionBox();
    box.replaceChildren(...notes.suggest.items.map((agent, i) => {
      const li = el("li", i === notes.suggest.index ? "active" : "");
      li.dataset.testid = "mention-suggestion";
      li.dataset.username = agent.username;
      li.id = `mention-suggestion-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === notes.suggest.index));
      li.append(el("span", "mention-user", `@${agent.username}`), el("span", "muted", agent.display_name));
      return li;
    }));
    box.hidden = notes.suggest.items.length === 0;
    linkSuggestions(!box.hidden);
  }

  async function refreshAgents() {
    notes.agents = (await call("GET", "/api/agents")).agents;
    onType(false);
  }

  function onType(fresh = true) {
    const box = $('[data-testid="reply"]');
    if (notes.mode !== "note") return;
    const before = box.value.slice(0, box.selectionStart);
    const typed = TYPING_MENTION.exec(before);
    if (!typed) return closeSuggestions();
    // a new "@": the list again, with colleagues added since the console opened
    if (fresh && typed[2] === "") refreshAgents().catch(() => {});
    const prefix = typed[2].toLowerCase();
    const items = notes.agents
      .filter((a) => !notes.me || a.id !== notes.me.id)
      .filter((a) => a.active !== false) // a deactivated colleague is not offered
      .filter((a) => a.username.toLowerCase().startsWith(prefix) || a.display_name.toLowerCase().startsWith(prefix))
      .slice(0, MAX_SUGGESTIONS);
    notes.suggest = { items, index: 0, start: before.length - typed[2].length - 1 };
    renderSuggestions();
  }

  function pick(index) {
    const agent = notes.suggest.items[index];
    const box = $('[data-testid="reply"]');
    if (!agent || notes.suggest.start < 0) return closeSuggestions();
    const end = box.selectionStart;
    const inserted = `@${agent.username} `;
    box.value = box.value.slice(0, notes.suggest.start) + inserted + box.value.slice(end);
    const caret = notes.suggest.start + inserted.length;
    box.setSelectionRange(caret, caret);
    closeSuggestions();
    box.focus();
  }

  // on the form, in the capture phase: before the box's own Enter (which sends)
  function onKey(e) {
    // Enter or Tab right after a key: the list may not be drawn for it yet (a slow page); what
    // the box holds at the caret decides, so a half-typed "@an" is completed, never sent
    if (e.target === $('[data-testid="reply"]') && (e.key === "Enter" || e.key === "Tab") && !e.isComposing
        && !notes.suggest.items.length) onType(false);
    if (e.target !== $('[data-testid="reply"]') || !notes.suggest.items.length) return;
    // an input method composing a word owns its keys; a key another list took is not ours
    if (e.isComposing || e.keyCode === 229 || e.defaultPrevented) return;
    const n = notes.suggest.items.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      notes.suggest.index = (notes.suggest.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderSuggestions();
    } else if (e.key === "Enter" || e.key === "Tab") {
      pick(notes.suggest.index);
    } else if (e.key === "Escape") {
      closeSuggestions();
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  }

  // ---- mentions: badge, view, live -----------------------------------------

  function renderBadge() {
    const badge = $('[data-testid="mentions-badge"]');
    if (!badge) return;
    badge.textContent = notes.unread > 99 ? "99+" : String(notes.unread);
    badge.hidden = notes.unread === 0;
    const button = $('[data-testid="mentions-button"]');
    button.title = tr("notes.unread", { count: notes.unread });
  }

  // a list item holding a real button (a role on the <li> would hide the list from a screen
  // reader); Enter and Space press it as any button
  function mentionRow(mention) {
    const li = el("li", "mention-entry");
    const row = el("button", mention.read_at ? "mention-item" : "mention-item unread");
    row.type = "button";
    row.dataset.testid = "mention";
    row.dataset.conversation = mention.note.conversation_id;
    const head = el("span", "mention-head");
    const where = window.customerLabel ? window.customerLabel(mention.customer_name, mention.customer_id)
      : mention.customer_name || tr("notes.customer");
    head.append(
      el("span", "mention-where", where),
      el("span", "muted", when(mention.note.created_at)),
    );
    row.append(
      head,
      el("span", "mention-by", tr("notes.mentioned_by", { name: mention.note.agent_name })),
      el("span", "mention-text", mention.note.text),
    );
    li.append(row);
    return li;
  }

  function renderMentions() {
    const list = $("#mentions-list");
    if (!list) return;
    list.replaceChildren(...notes.mentions.map(mentionRow));
    $("#mentions-empty").hidden = notes.mentions.length > 0;
  }

  // the badge shows the server's count: an answer to an older request never
  // overwrites a newer one's (the count may be asked again meanwhile)
  function counted(ticket, unread) {
    if (ticket < notes.counted) return false;
    notes.counted = ticket;
    notes.unread = unread;
    renderBadge();
    return true;
  }

  async function loadMentions() {
    const ticket = ++notes.ticket;
    const data = await call("GET", "/api/mentions");
    if (!counted(ticket, data.unread)) return;
    notes.mentions = data.mentions;
    renderMentions();
  }

  function toggleView(open) {
    const view = $("#mentions-view");
    view.hidden = open === undefined ? !view.hidden : !open;
    $('[data-testid="mentions-button"]').setAttribute("aria-expanded", String(!view.hidden));
    // popover.js: Escape, a click elsewhere, and no shortcut behind it, as every popover of the console
    if (view.hidden) window.consolePopover.closed(view);
    else window.consolePopover.opened(view);
    if (!view.hidden) loadMentions().catch(() => {});
  }

  function openMention(event) {
    const row = event.target.closest('[data-testid="mention"]');
    if (!row) return;
    toggleView(false);
    document.dispatchEvent(new CustomEvent("conversation:open", { detail: { id: row.dataset.conversation } }));
  }

  async function markRead(id) {
    if (!notes.mentions.some((m) => !m.read_at && m.note.conversation_id === id) && notes.unread === 0) return;
    const ticket = ++notes.ticket;
    const data = await call("POST", `/api/conversations/${encodeURIComponent(id)}/mentions/read`);
    const now = new Date().toISOString();
    notes.mentions.forEach((m) => {
      if (m.note.conversation_id === id && !m.read_at) m.read_at = now;
    });
    counted(ticket, data.unread);
    renderMentions();
  }

  // the conversation is open in front of them, the tab visible: its mentions are read
  function readIfSeen() {
    if (notes.selected && document.visibilityState === "visible") markRead(notes.selected).catch(() => {});
  }

  function onMentioned(mention) {
    // the same mention twice (the socket opened while the catch-up's GET ran) is one;
    // and the count is the server's, which knows if it was read meanwhile (mentions.read
    // may come first from another node)
    const known = notes.mentions.some((m) => m.note.id === mention.note.id);
    if (!known) notes.mentions = [mention, ...notes.mentions];
    renderMentions();
    loadMentions().catch(() => {});
    if (!known && window.consoleAlerts && typeof window.consoleAlerts.notify === "function") {
      window.consoleAlerts.notify("mention", tr("notes.alert_title", { name: mention.note.agent_name }),
        mention.note.text);
    }
    if (mention.note.conversation_id === notes.selected) readIfSeen();
  }

  function onEvent(event) {
    const data = event.detail.data || {};
    if (event.detail.type === "note.created") place(data.note);
    else if (event.detail.type === "note.mentioned") onMentioned(data.mention);
    else if (event.detail.type === "mentions.read") {
      // a count pushed now is newer than any asked for before it
      counted(++notes.ticket, data.unread);
      notes.mentions.forEach((m) => {
        if (m.note.conversation_id === data.conversation_id && !m.read_at) m.read_at = new Date().toISOString();
      });
      renderMentions();
    }
  }

  function topbarParts() {
    const button = el("button", "btn ghost mentions-button");
    button.type = "button";
    button.dataset.testid = "mentions-button";
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    const badge = el("span", "mentions-badge", "0");
    badge.dataset.testid = "mentions-badge";
    badge.hidden = true;
    button.append(el("span", "mentions-at", "@"), said(el("span", "mentions-word"), "notes.mentions"), badge);
    button.addEventListener("click", () => toggleView());

    const view = el("section", "mentions-view");
    view.id = "mentions-view";
    view.dataset.testid = "mentions-view";
    view.setAttribute("role", "dialog");
    view.dataset.i18nAttr = "aria-label:notes.mentions";
    view.setAttribute("aria-label", tr("notes.mentions"));
    view.hidden = true;
    const head = el("header", "mentions-title");
    const close = el("button", "btn ghost", "×");
    close.type = "button";
    close.dataset.i18nAttr = "aria-label:notes.close";
    close.setAttribute("aria-label", tr("notes.close"));
    close.addEventListener("click", () => toggleView(false));
    head.append(said(el("h2"), "notes.mentions"), close);
    const list = el("ul", "mentions-list");
    list.id = "mentions-list";
    list.addEventListener("click", openMention); // a click, or Enter or Space on a mention's button
    const empty = said(el("p", "muted mentions-empty"), "notes.no_mentions");
    empty.id = "mentions-empty";
    view.append(head, list, empty);
    return [button, view];
  }

  // on every (re)connection: colleagues added meanwhile, mentions missed while away
  async function catchUp() {
    const [me, data] = await Promise.all([window.consoleApi.me(), call("GET", "/api/agents")]);
    notes.me = me.agent;
    notes.agents = data.agents;
    await loadMentions();
  }

  function wire() {
    const form = $("#reply-form");
    const bar = form.querySelector(".composer-bar");
    form.insertBefore(modeSwitch(), form.firstChild);
    form.addEventListener("keydown", onKey, true);
    $('[data-testid="reply"]').addEventListener("input", () => onType());
    // the box lost the keyboard for a moment (a click on "Note", which gives it back): the list opened
    // since then stays; it closes only when the focus is still elsewhere
    $('[data-testid="reply"]').addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== $('[data-testid="reply"]')) closeSuggestions();
    }, 150));
    const [button, view] = topbarParts();
    const topbar = $(".topbar");
    topbar.insertBefore(button, topbar.querySelector(".spacer") ? topbar.querySelector(".spacer").nextSibling : null);
    document.body.append(view);
    window.consolePopover.attach(button, view, () => toggleView(false), { place: false }); // its CSS places it
    if (bar) setMode("reply");
    document.addEventListener("console:event", onEvent);
    document.addEventListener("conversation:selected", (e) => {
      notes.selected = e.detail.id;
      notes.known = new Map();
      notes.drawn = false;
      markRead(e.detail.id).catch(() => {});
    });
    // the thread is drawn: the notes join it in time order
    document.addEventListener("conversation:loaded", (e) => {
      if (e.detail.id !== notes.selected) return;
      drawKnown();
      loadNotes(e.detail.id).catch(() => {});
    });
    document.addEventListener("console:connected", () => catchUp().catch(() => {}));
    // back to a tab left hidden: the mentions that came meanwhile in the open conversation are read now
    document.addEventListener("visibilitychange", () => {
      if (notes.mentions.some((m) => !m.read_at && m.note.conversation_id === notes.selected)) readIfSeen();
    });
    document.addEventListener("keydown", (e) => {
      // shortcuts.js's "r" focuses the box: as a reply, whatever the switch said
      if (e.key === "r" && !e.ctrlKey && !e.metaKey && !e.altKey && !isTyping(e.target)) setMode("reply");
    });
    if (window.consoleShortcuts) {
      window.consoleShortcuts.add("n", "help.note", () => {
        const box = $('[data-testid="reply"]');
        if (!box || box.offsetParent === null) return;
        setMode("note");
        box.focus();
      });
      window.consoleShortcuts.add("m", "notes.shortcut_mentions", () => toggleView(true));
    }
  }

  function isTyping(target) {
    return target instanceof HTMLElement
      && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  // the @names of a text as the server reads them (router/notes/service.py mentioned_names)
  function mentionedNames(text) {
    const names = [...text.matchAll(MENTION)].map((m) => m[2].replace(/\.+$/, "").toLowerCase());
    return [...new Set(names)];
  }

  window.notes = {
    isNoteMode: () => notes.mode === "note",
    mentionedNames,
    setMode,
    submit,
  };

  document.addEventListener("DOMContentLoaded", wire);
})();
