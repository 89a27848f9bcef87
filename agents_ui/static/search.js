// omnirouter console: search and views (messages, conversations, customers;
// filters; pages by cursor), label chips on the list rows and the header, and
// snooze. Every text from the API is set with textContent: it may be a
// customer's words. Words come from the catalogues (t(), under "search"), times
// from fmt; what is built once carries data-i18n, so a change of language relabels it.
"use strict";

(() => {
  const tr = (key, vars) => t(key, vars);
  const when = (ts) => fmt.dateTime(ts);
  const state = {
    kind: "messages",
    next: null,       // the next page's cursor
    token: 0,         // the latest search: an older answer is dropped
    labels: new Map(), // conversation id -> its labels, as last read with them
    known: [],        // every label's name
  };
  const $ = (sel) => document.querySelector(sel);

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function button(className, text, testid, onClick) {
    const b = node("button", className, text);
    b.type = "button";
    if (testid) b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  // ---- the search bar and its filters --------------------------------------

  function option(value, text) {
    const o = node("option", null, text);
    o.value = value;
    return o;
  }

  // a text of the catalogue on a node built once: set now, and again by i18n.translate on a change of language
  function said(n, key) {
    n.dataset.i18n = key;
    n.textContent = tr(key);
    return n;
  }

  function attrs(n, pairs) {
    n.dataset.i18nAttr = pairs.map(([attr, key]) => `${attr}:${key}`).join(";");
    for (const [attr, key] of pairs) n.setAttribute(attr, tr(key));
    return n;
  }

  function select(name, testid, options) {
    const s = node("select", "search-filter");
    s.name = name;
    s.dataset.testid = testid;
    attrs(s, [["aria-label", `search.filter.${name}`]]);
    s.append(...options.map(([value, key]) => said(option(value, ""), key)));
    s.addEventListener("change", () => run());
    return s;
  }

  function dateInput(name, testid) {
    const input = node("input", "search-filter");
    input.type = "date";
    input.name = name;
    input.dataset.testid = testid;
    attrs(input, [["aria-label", `search.filter.${name}`], ["title", `search.filter.${name}`]]);
    input.addEventListener("change", () => run());
    return input;
  }

  function buildBar() {
    const bar = node("form", "search-bar");
    bar.id = "search-bar";
    bar.setAttribute("role", "search");
    const input = node("input", "search-input");
    input.type = "search";
    input.dataset.testid = "search-input";
    input.maxLength = 200;
    attrs(input, [["placeholder", "search.placeholder"], ["aria-label", "search.label"]]);
    input.setAttribute("aria-keyshortcuts", "Control+K /");
    const toggle = button("btn ghost search-toggle", "", "search-filters-toggle", () => {
      filters.hidden = !filters.hidden;
      if (!filters.hidden) loadLabels().catch(() => {});
    });
    said(toggle, "search.filters");
    toggle.setAttribute("aria-controls", "search-filters");
    const filters = node("div", "search-filters");
    filters.id = "search-filters";
    filters.hidden = true;
    filters.append(
      select("kind", "search-kind", [["messages", "search.kind.messages"], ["conversations", "search.kind.conversations"],
        ["customers", "search.kind.customers"]]),
      select("status", "search-status", [["", "search.any_status"], ["open", "search.status.open"],
        ["queued", "search.status.queued"], ["assigned", "search.status.assigned"], ["bot", "search.status.bot"],
        ["resolved", "search.status.resolved"]]),
      select("assignee", "search-assignee", [["", "search.anyone"], ["me", "search.me"], ["none", "search.nobody"]]),
      select("label", "search-label", [["", "search.any_label"]]),
      select("snoozed", "search-snoozed", [["", "search.snoozed.any"], ["true", "search.snoozed.only"],
        ["false", "search.snoozed.none"]]),
      textFilter("channel", "search-channel"), textFilter("team", "search-team"),
      dateInput("since", "search-since"), dateInput("until", "search-until"),
    );
    bar.append(input, toggle, filters);
    bar.addEventListener("submit", (e) => { e.preventDefault(); run(); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { input.value = ""; close(); input.blur(); }
      // the form has several fields and no submit button: the browser does not submit it on Enter
      if (e.key === "Enter" && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); clearTimeout(typing); run(); }
    });
    let typing = null;
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => (input.value.trim() || hasFilters() ? run() : close()), 250);
    });
    return bar;
  }

  function textFilter(name, testid) {
    const input = node("input", "search-filter");
    input.name = name;
    input.dataset.testid = testid;
    input.maxLength = 64;
    attrs(input, [["placeholder", `search.filter.${name}`], ["aria-label", `search.filter.${name}`]]);
    input.addEventListener("change", () => run());
    return input;
  }

  function field(name) {
    return $(`#search-filters [name="${name}"]`);
  }

  function hasFilters() {
    return ["status", "assignee", "label", "snoozed", "channel", "team", "since", "until"].some((n) => field(n).value);
  }

  // me: the agent signed in now (consoleApi.me() of this run: never one cached at page load)
  function params(cursor, me) {
    const q = $('[data-testid="search-input"]').value.trim();
    const p = new URLSearchParams({ kind: field("kind").value, limit: "20" });
    if (q) p.set("q", q);
    for (const name of ["status", "label", "snoozed", "channel", "team"]) if (field(name).value) p.set(name, field(name).value);
    const who = field("assignee").value;
    if (who) p.set("assignee", who === "me" ? me.id : who);
    // a day typed in the filter is that day in the agent's own timezone
    if (field("since").value) p.set("since", new Date(`${field("since").value}T00:00`).toISOString());
    if (field("until").value) {
      const end = new Date(`${field("until").value}T00:00`);
      end.setDate(end.getDate() + 1);
      p.set("until", end.toISOString());
    }
    if (cursor) p.set("cursor", cursor);
    return p;
  }

  // ---- results ------------------------------------------------------------

  function resultsBox() {
    let box = $("#search-results");
    if (!box) {
      box = node("div", "search-results");
      box.id = "search-results";
      box.dataset.testid = "search-results";
      box.setAttribute("aria-live", "polite");
      $("#conversations").before(box);
    }
    return box;
  }

  function close() {
    const box = $("#search-results");
    if (box) box.remove();
    $("#conversations").hidden = false;
    state.token++;
  }

  function labelChips(labels, removable, convId) {
    return (labels || []).map((name) => {
      const chip = node("span", "label-chip", name);
      chip.dataset.testid = "label-chip";
      chip.dataset.label = name;
      if (removable) {
        const x = button("label-remove", "×", "label-remove", () => removeLabel(convId, name));
        x.setAttribute("aria-label", tr("search.labels.remove", { label: name }));
        chip.append(x);
      }
      return chip;
    });
  }

  // a hit's status and labels, as the lists show them
  function hitTags(conv) {
    const tags = node("span", "search-hit-tags");
    const status = node("span", `badge ${conv.status}`, tr(`status.${conv.status}`));
    status.dataset.testid = "search-hit-status";
    tags.append(status, ...labelChips(conv.labels));
    return tags;
  }

  // a conversation changed (a take, a resolve, a label...): its hits follow, as the lists' rows do
  function followHits(conv) {
    document.querySelectorAll('#search-results [data-testid="search-hit"]').forEach((hit) => {
      const tags = hit.querySelector(".search-hit-tags");
      if (hit.dataset.conversation === conv.id && tags && conv.status) tags.replaceWith(hitTags({ ...conv, labels: labelsOf(conv) }));
    });
  }

  // a list item holding a real button when the hit opens a conversation (a role on the <li>
  // would hide the list from a screen reader); a customer with none is read, not pressed
  function resultRow(conv, title, text, ts, opens = conv ? conv.id : null) {
    const li = node("li", "search-hit-item");
    const hit = node(opens ? "button" : "div", "search-hit");
    hit.dataset.testid = "search-hit";
    const head = node("span", "search-hit-head");
    head.append(node("span", "search-hit-name", title), node("span", "search-hit-time", ts ? when(ts) : ""));
    hit.append(head, node("span", "search-hit-text", text || ""));
    if (conv) hit.append(hitTags(conv));
    if (opens) {
      hit.type = "button";
      hit.dataset.conversation = opens;
      // a click, or Enter or Space (which the browser turns into a click)
      hit.addEventListener("click", () => {
        document.dispatchEvent(new CustomEvent("conversation:open", { detail: { id: opens } }));
      });
    }
    li.append(hit);
    return li;
  }

  function rowsOf(data) {
    const name = (c) => customerLabel(c.customer_name, c.customer_id);
    if (data.kind === "messages") {
      return data.messages.map((h) => resultRow(h.conversation, name(h.conversation), h.message.text,
        h.message.created_at));
    }
    if (data.kind === "conversations") {
      return data.conversations.map((c) => resultRow(c, name(c), window.i18n.described(c.last_message_text), c.last_message_at));
    }
    return data.customers.map((c) => {
      return resultRow(null, customerLabel(c.display_name, c.id), c.identities.map((i) => window.customerIdentityText(i.kind, i.value)).join(" · "),
        null, c.conversation_id || null);
    });
  }

  // a page of messages looks at a bounded number of matches: when filters let none of them
  // through, the next pages are fetched at once, a few of them, before "More" is offered
  const AUTO_PAGES = 5;

  async function run(more, auto = 0) {
    const token = ++state.token;
    const box = resultsBox();
    $("#conversations").hidden = true;
    try {
      // "assigned to me": whoever is signed in now, asked through api.js (once per sign-in)
      const me = field("assignee").value === "me" ? (await window.consoleApi.me()).agent : null;
      if (token !== state.token) return;
      const data = await call("GET", `/api/search?${params(more ? state.next : null, me)}`);
      if (token !== state.token) return;
      state.next = data.next;
      let list = box.querySelector("ol");
      if (!more || !list) {
        list = node("ol", "search-list");
        box.replaceChildren(list);
      }
      box.querySelector(".search-more")?.remove();
      const rows = rowsOf(data);
      list.append(...rows);
      if (!rows.length && data.next && auto < AUTO_PAGES) {
        run(true, auto + 1);
        return;
      }
      if (!list.children.length) box.replaceChildren(node("p", "muted search-empty", tr("search.nothing")));
      if (data.next) box.append(button("btn search-more", tr("search.more"), "search-more", () => run(true)));
      box.dataset.done = String(token); // which search the box shows
    } catch (err) {
      if (token !== state.token) return;
      const error = node("p", "form-error", err.message);
      error.dataset.testid = "search-error";
      error.setAttribute("role", "alert");
      box.replaceChildren(error);
    }
  }

  // ---- labels ---------------------------------------------------------------

  async function loadLabels() {
    const data = await call("GET", "/api/labels");
    state.known = data.labels.map((l) => l.name);
    const choice = field("label");
    const kept = choice.value;
    choice.replaceChildren(said(option("", ""), "search.any_label"), ...state.known.map((n) => option(n, n)));
    choice.value = state.known.includes(kept) ? kept : "";
    const list = $("#label-names") || Object.assign(node("datalist"), { id: "label-names" });
    list.replaceChildren(...state.known.map((n) => option(n, n)));
    if (!list.isConnected) document.body.append(list);
  }

  function labelsOf(conv) {
    if (Array.isArray(conv.labels)) state.labels.set(conv.id, conv.labels);
    return state.labels.get(conv.id) || [];
  }

  async function addLabel(convId, name) {
    const data = await call("POST", `/api/conversations/${encodeURIComponent(convId)}/labels`, { name });
    labelsOf(data.conversation);
    loadLabels().catch(() => {});
    return data.conversation;
  }

  async function removeLabel(convId, name) {
    try {
      const data = await call("DELETE",
        `/api/conversations/${encodeURIComponent(convId)}/labels/${encodeURIComponent(name)}`);
      labelsOf(data.conversation);
      decorateHeader(data.conversation);
    } catch (err) {
      showError(err);
    }
  }

  function showError(err) {
    const target = $("#reply-error");
    if (target) target.textContent = err.message;
  }

  function labelForm(conv) {
    const form = node("form", "label-form");
    form.dataset.testid = "label-form";
    const input = node("input", "label-input");
    input.maxLength = 40;
    input.required = true;
    input.setAttribute("list", "label-names");
    input.placeholder = tr("search.labels.placeholder");
    input.setAttribute("aria-label", tr("search.labels.add"));
    input.dataset.testid = "label-input";
    form.append(input);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        decorateHeader(await addLabel(conv.id, input.value));
      } catch (err) {
        showError(err);
      }
    });
    input.addEventListener("keydown", (e) => { if (e.key === "Escape") decorateHeader(conv); });
    return form;
  }

  // ---- snooze -----------------------------------------------------------------

  function presets() {
    const now = new Date();
    const hour = new Date(now.getTime() + 3600_000);
    const tomorrow = new Date(now);
    tomorrow.setDate(now.getDate() + 1);
    tomorrow.setHours(9, 0, 0, 0);
    const week = new Date(now);
    week.setDate(now.getDate() + (((8 - now.getDay()) % 7) || 7)); // next Monday
    week.setHours(9, 0, 0, 0);
    return [["hour", hour], ["tomorrow", tomorrow], ["next_week", week]];
  }

  async function snooze(convId, until) {
    try {
      const data = await call("POST", `/api/conversations/${encodeURIComponent(convId)}/snooze`,
        { until: until.toISOString() });
      decorateHeader(data.conversation);
    } catch (err) {
      showError(err);
    }
  }

  async function wake(convId) {
    try {
      decorateHeader((await call("DELETE", `/api/conversations/${encodeURIComponent(convId)}/snooze`)).conversation);
    } catch (err) {
      showError(err);
    }
  }

  function snoozeChoices(conv) {
    const list = node("div", "snooze-menu");
    for (const [key, at] of presets()) {
      const b = button("btn ghost", tr(`search.snooze.${key}`), `snooze-${key}`, () => snooze(conv.id, at));
      b.title = when(at.toISOString());
      list.append(b);
    }
    const custom = node("form", "snooze-custom");
    const input = node("input");
    input.type = "datetime-local";
    input.required = true;
    input.dataset.testid = "snooze-custom";
    input.setAttribute("aria-label", tr("search.snooze.custom"));
    const ok = node("button", "btn", tr("search.snooze.apply"));
    ok.type = "submit";
    custom.append(input, ok);
    custom.addEventListener("submit", (e) => {
      e.preventDefault();
      snooze(conv.id, new Date(input.value)); // the agent's own timezone
    });
    list.append(custom);
    return list;
  }

  function snoozeMenu(conv) {
    const menu = node("details", "snooze");
    menu.dataset.testid = "snooze";
    const summary = node("summary", "btn", tr("search.snooze.action"));
    summary.dataset.testid = "snooze-open";
    menu.append(summary);
    // the choices exist while the menu is open only: the presets are computed then, from the time it is
    menu.addEventListener("toggle", () => {
      menu.querySelector(".snooze-menu")?.remove();
      if (menu.open) menu.append(snoozeChoices(conv));
    });
    // popover.js (after the listener above, which builds the panel): Escape, a click elsewhere,
    // no shortcut behind it ("m" opened the mentions over it), inside the window at every width
    return window.consolePopover.details(menu);
  }

  // ---- what console.js calls ------------------------------------------------------

  function decorateRow(li, conv) {
    const labels = labelsOf(conv);
    const tags = li.querySelector(".conv-tags");
    if (tags && labels.length) tags.append(...labelChips(labels));
  }

  function decorateHeader(conv) {
    let box = $("#conv-labels");
    if (!box) {
      box = node("div", "conv-labels");
      box.id = "conv-labels";
      box.dataset.testid = "conversation-labels";
      $("#conv-meta").after(box);
    }
    const items = labelChips(labelsOf(conv), true, conv.id);
    if (conv.status !== "resolved") {
      items.push(button("btn ghost label-add", tr("search.labels.add"), "label-add", () => {
        box.replaceChildren(...labelChips(labelsOf(conv), true, conv.id), labelForm(conv));
        box.querySelector("input").focus();
        loadLabels().catch(() => {});
      }));
    }
    if (conv.snoozed_until) {
      const chip = node("span", "chip snoozed", tr("search.snooze.until", { time: when(conv.snoozed_until) }));
      chip.dataset.testid = "snoozed-until";
      items.push(chip, button("btn ghost", tr("search.snooze.wake"), "snooze-wake", () => wake(conv.id)));
    } else if (conv.status !== "resolved") {
      items.push(snoozeMenu(conv));
    }
    box.replaceChildren(...items);
  }

  // a snoozed conversation is out of the open lists until it wakes
  function visible(conv) {
    return !conv.snoozed_until;
  }

  function focusSearch() {
    const input = $('[data-testid="search-input"]');
    if (!input) return false;
    // one pane at a time (390 px) with a conversation open: the list, where the box is, comes first
    if (!input.offsetParent && window.consoleLayout) window.consoleLayout.show("list");
    if (!input.offsetParent) return false;
    input.focus();
    input.select();
    return true;
  }

  // "/" outside a text field (inside the reply box it starts a canned reply), listed by "?";
  // Ctrl+K (⌘K) anywhere, a text field too
  window.consoleShortcuts.add("/", "help.search", focusSearch);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k" && focusSearch()) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    $(".sidebar .tabs").before(buildBar());
  });
  // the selected conversation changed elsewhere (a label, a snooze, a wake-up): its header follows
  document.addEventListener("console:event", (e) => {
    const conv = e.detail.data && e.detail.data.conversation;
    if (conv) labelsOf(conv);
    if (conv) followHits(conv);
  });

  window.searchUI = { decorateRow, decorateHeader, visible };
})();
