// omnirouter console: canned replies. Typing "/" at the start of the reply box
// opens a list of the replies offered in this conversation (the agent's own,
// their teams', the bot's answers), filtered as they type; arrow keys and Enter
// pick one, Esc closes. The server fills the reply in for this customer
// (GET /api/conversations/{id}/canned/{reply}): the box gets the filled text to
// read and edit before sending, or the list says which values the customer
// lacks and nothing is inserted. A dialog manages the replies themselves.
// Every text is set with textContent: replies and profiles are people's input.
"use strict";

(() => {
  const t = (key, vars) => window.i18n.t(key, vars);
  const PREVIEW = 140; // characters of a reply's text shown in the list

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  // a form's control by name (form.title would be the form's own title attribute)
  const input = (form, name) => form.elements.namedItem(name);

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  const braced = (name) => `{${name}}`;

  // an API error in the console's language; variable names shown as they are written
  function explain(err) {
    const d = { ...(err.details || {}) };
    if (Array.isArray(d.variables)) d.variables = d.variables.map(braced).join(", ");
    if (typeof d.variable === "string") d.variable = braced(d.variable);
    if (Array.isArray(d.known)) d.known = d.known.join(", ");
    if (typeof d.field === "string") d.field = t(`canned.field.${d.field.replace(".", "_")}`, { defaultValue: d.field });
    if (typeof d.language === "string") d.language = t(`canned.language.${d.language}`, { defaultValue: d.language });
    if (typeof d.max === "number") d.count = d.max; // "at most 32 characters": the plural follows the limit
    const key = `errors.${err.code}`;
    // asked with the details, so that a plural text ("at most 32 characters") is found by its count
    if (err.code && window.i18next.exists(key, d)) return t(key, d);
    return window.i18n.error({ code: err.code, message: err.message, status: err.status, details: d });
  }

  function sourceLabel(item) {
    if (item.source === "bot") return t("canned.source.bot");
    if (item.source === "team") return t("canned.source.team", { team: window.teamNames.label(item.team) });
    return t("canned.source.personal");
  }

  // ---- the list in the composer ----------------------------------------------------

  const picker = {
    conversation: null,
    offers: null, // the offers of `conversation`, fetched when the list opens
    loading: null,
    open: false,
    dismissed: false, // Esc: closed until the box no longer starts with "/"
    shown: [],
    active: 0,
    filling: false,
  };
  // the reply box's text per conversation: what was written (or filled in) for one
  // customer is never in the box while another's conversation is open
  const drafts = new Map();

  const box = () => document.querySelector('[data-testid="reply"]');
  const listNode = () => document.getElementById("canned-picker");

  function pickerUI() {
    let root = listNode();
    if (root) return root;
    root = node("div", "canned-picker");
    root.id = "canned-picker";
    root.dataset.testid = "canned-picker";
    root.hidden = true;
    const head = node("div", "canned-picker-head", t("canned.picker_hint"));
    const list = node("ul", "canned-options");
    list.id = "canned-options";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", t("canned.title"));
    const error = node("p", "form-error canned-error");
    error.dataset.testid = "canned-error";
    error.setAttribute("role", "alert");
    root.append(head, error, list);
    list.addEventListener("mousedown", (e) => e.preventDefault()); // the box keeps the focus
    list.addEventListener("click", (e) => {
      const row = e.target.closest("[data-index]");
      if (row) choose(picker.shown[Number(row.dataset.index)]);
    });
    document.getElementById("reply-form").prepend(root);
    return root;
  }

  function query() {
    const value = box().value;
    return value.startsWith("/") ? value.slice(1).split("\n")[0] : null;
  }

  // the first line is a "/shortcut" being looked up (no space yet): never a reply to send
  const isShortcutQuery = () => /^\/\S*$/.test(box().value.split("\n")[0]);
  const firstLine = () => box().value.split("\n")[0];
  // the @-list of notes.js is open at the caret: the keys are its
  const mentionListOpen = () => {
    const list = document.getElementById("mention-suggestions");
    return Boolean(list && !list.hidden);
  };

  function matches(item, words) {
    const hay = `${item.shortcut}\n${item.title}\n${item.text}`.toLocaleLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function filtered(q) {
    const words = q.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const found = (picker.offers || []).filter((o) => matches(o, words));
    const head = words[0] || "";
    // a shortcut that starts with what was typed comes first; otherwise the server's order
    return [...found.filter((o) => o.shortcut.startsWith(head)), ...found.filter((o) => !o.shortcut.startsWith(head))];
  }

  function option(item, index) {
    const li = node("li", `canned-option ${item.source}`);
    li.dataset.testid = "canned-option";
    li.dataset.id = item.id;
    li.dataset.index = String(index);
    li.id = `canned-option-${index}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(index === picker.active));
    const top = node("div", "canned-option-top");
    top.append(node("span", "canned-shortcut", `/${item.shortcut}`), node("span", "canned-title", item.title),
      node("span", `canned-source ${item.source}`, sourceLabel(item)));
    const text = item.text.length > PREVIEW ? `${item.text.slice(0, PREVIEW)}…` : item.text;
    li.append(top, node("div", "canned-text", text));
    if (item.missing && item.missing.length) {
      const lacks = node("div", "canned-missing",
        t("canned.lacks", { variables: item.missing.map(braced).join(", "), count: item.missing.length }));
      lacks.dataset.testid = "canned-missing";
      li.append(lacks);
    }
    return li;
  }

  function render() {
    const list = document.getElementById("canned-options");
    if (picker.offers === null) {
      list.replaceChildren(node("li", "canned-empty muted", t("canned.loading")));
      return;
    }
    picker.shown = filtered(query() || "");
    picker.active = Math.min(picker.active, Math.max(0, picker.shown.length - 1));
    if (!picker.shown.length) {
      list.replaceChildren(node("li", "canned-empty muted", t("canned.none_found")));
      box().removeAttribute("aria-activedescendant");
      return;
    }
    list.replaceChildren(...picker.shown.map(option));
    box().setAttribute("aria-activedescendant", `canned-option-${picker.active}`);
    const active = list.children[picker.active];
    if (active) active.scrollIntoView({ block: "nearest" });
  }

  async function load() {
    const id = picker.conversation;
    if (!id) return;
    const loading = call("GET", `/api/conversations/${encodeURIComponent(id)}/canned`);
    picker.loading = loading;
    try {
      const data = await loading;
      if (picker.loading !== loading || picker.conversation !== id) return; // another conversation meanwhile
      picker.offers = data.replies;
    } catch (err) {
      if (picker.loading === loading) showError(explain(err));
      picker.offers = [];
    }
    if (picker.open) render();
  }

  function showError(text) {
    const error = pickerUI().querySelector(".canned-error");
    error.textContent = text || "";
  }

  function openPicker() {
    const root = pickerUI();
    if (!picker.open) {
      picker.open = true;
      picker.active = 0;
      picker.offers = null; // fetched afresh: the profile or the replies may have changed
      showError("");
      root.hidden = false;
      // a textarea takes no aria-expanded (nor the combobox role): the list it shows is
      // named by aria-controls and its active option by aria-activedescendant, while open
      box().setAttribute("aria-controls", "canned-options");
      load();
    }
    render();
  }

  function closePicker() {
    picker.open = false;
    picker.loading = null;
    const root = listNode();
    if (root) root.hidden = true;
    const b = box();
    if (b) {
      // notes.js's @-list may hold the box's links now: only this list's are taken away
      if (b.getAttribute("aria-controls") === "canned-options") b.removeAttribute("aria-controls");
      if ((b.getAttribute("aria-activedescendant") || "").startsWith("canned-option-")) b.removeAttribute("aria-activedescendant");
    }
  }

  function onInput() {
    if (picker.filling) return;
    const q = query();
    if (mentionListOpen()) {
      closePicker(); // one list at a time: the @-list just opened at the caret
      return;
    }
    if (q === null) {
      picker.dismissed = false;
      closePicker();
      return;
    }
    if (!picker.dismissed) {
      picker.active = 0;
      showError("");
      openPicker();
    }
  }

  function put(text, caret) {
    const b = box();
    picker.filling = true;
    b.value = text;
    b.dispatchEvent(new Event("input", { bubbles: true })); // the console grows the box to fit
    picker.filling = false;
    b.focus();
    b.setSelectionRange(caret, caret);
  }

  async function choose(item) {
    if (!item || !picker.conversation) return;
    showError("");
    const id = picker.conversation;
    const asked = firstLine(); // the "/query" line the agent picked from
    try {
      const filled = await call("GET",
        `/api/conversations/${encodeURIComponent(id)}/canned/${encodeURIComponent(item.id)}`);
      // another conversation, or the agent typed on meanwhile: their words win over a late answer
      if (picker.conversation !== id || firstLine() !== asked) return;
      closePicker();
      // the "/query" line becomes the reply; whatever the agent wrote below it stays
      const value = box().value;
      const rest = value.startsWith("/") && value.includes("\n") ? value.slice(value.indexOf("\n")) : "";
      put(filled.text + rest, filled.text.length);
      const note = document.getElementById("reply-error");
      if (note) note.textContent = filled.wanted_language ? t("canned.other_language", {
        wanted: t(`canned.language.${filled.wanted_language}`), used: t(`canned.language.${filled.language}`),
      }) : "";
    } catch (err) {
      // nothing is inserted: the agent reads what is missing and picks another, or writes it
      showError(explain(err));
    }
  }

  function onKeydown(event) {
    // an input method composing a word owns its keys
    if (event.target !== box() || event.isComposing || event.keyCode === 229) return;
    if (event.defaultPrevented || mentionListOpen()) {
      // the @-list at the caret took the key or is open (its colleagues may have come after the last key)
      closePicker();
      return;
    }
    if (!picker.open) {
      if (event.key === "Enter" && !event.shiftKey && isShortcutQuery()) {
        // the list was closed (Esc, focus gone and back): "/shortcut" is looked up again, never sent
        event.preventDefault();
        event.stopPropagation();
        picker.dismissed = false;
        openPicker();
      }
      return;
    }
    const keys = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in keys) {
      event.preventDefault();
      const n = picker.shown.length;
      if (n) picker.active = (picker.active + keys[event.key] + n) % n;
      render();
    } else if (event.key === "Enter" && !event.shiftKey) {
      // never the console's send: "/shortcut" is not a reply
      event.preventDefault();
      event.stopPropagation();
      choose(picker.shown[picker.active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      picker.dismissed = true;
      closePicker();
    }
  }

  // ---- the management dialog ----------------------------------------------------------

  const manage = { data: null, editing: null };

  function field(label, input, hint) {
    const wrap = node("label", "field canned-field");
    wrap.append(node("span", "", label), input);
    if (hint) wrap.append(node("span", "muted small", hint));
    return wrap;
  }

  function dialogUI() {
    let dialog = document.getElementById("canned-dialog");
    if (dialog) return dialog;
    dialog = node("dialog", "canned-dialog");
    dialog.id = "canned-dialog";
    dialog.dataset.testid = "canned-dialog";
    dialog.setAttribute("aria-labelledby", "canned-dialog-title");
    const head = node("header", "canned-dialog-head");
    const title = node("h2", "", t("canned.title"));
    title.id = "canned-dialog-title";
    const count = node("span", "muted canned-count");
    const close = node("button", "btn ghost", t("canned.close"));
    close.type = "button";
    close.addEventListener("click", () => dialog.close());
    head.append(title, count, node("span", "spacer"), close);

    const bar = node("div", "canned-bar");
    const search = node("input", "canned-search");
    search.type = "search";
    search.dataset.testid = "canned-search";
    search.placeholder = t("canned.search");
    search.setAttribute("aria-label", t("canned.search"));
    search.addEventListener("input", renderRows);
    const add = node("button", "btn primary", t("canned.new"));
    add.type = "button";
    add.dataset.testid = "canned-new";
    add.addEventListener("click", () => edit(null));
    bar.append(search, add);

    const rows = node("ul", "canned-rows");
    rows.dataset.testid = "canned-rows";
    dialog.append(head, bar, formUI(), rows);
    document.body.append(dialog);
    return dialog;
  }

  function formUI() {
    const form = node("form", "canned-form");
    form.dataset.testid = "canned-form";
    form.hidden = true;
    form.noValidate = true;
    const scope = node("select", "");
    scope.name = "scope";
    const shortcut = node("input", "");
    shortcut.name = "shortcut";
    shortcut.autocapitalize = "none";
    shortcut.spellcheck = false;
    const title = node("input", "");
    title.name = "title";
    const ru = node("textarea", "");
    ru.name = "ru";
    ru.rows = 3;
    const en = node("textarea", "");
    en.name = "en";
    en.rows = 3;
    const shadow = node("p", "canned-shadow-note muted small");
    shadow.dataset.testid = "canned-shadow-note";
    const error = node("p", "form-error");
    error.dataset.testid = "canned-form-error";
    error.setAttribute("role", "alert");
    const save = node("button", "btn primary", t("canned.save"));
    save.type = "submit";
    save.dataset.testid = "canned-save";
    const cancel = node("button", "btn ghost", t("canned.cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => { form.hidden = true; });
    const actions = node("div", "canned-form-actions");
    actions.append(save, cancel);
    form.append(
      field(t("canned.field.scope"), scope),
      field(t("canned.field.shortcut"), shortcut, t("canned.shortcut_hint")),
      field(t("canned.field.title"), title),
      field(t("canned.field.texts_ru"), ru),
      field(t("canned.field.texts_en"), en, t("canned.variables_hint")),
      shadow, error, actions,
    );
    form.addEventListener("submit", onSave);
    shortcut.addEventListener("input", shadowNote);
    scope.addEventListener("change", shadowNote);
    return form;
  }

  function scopeOptions(select, reply) {
    const options = [];
    const mine = node("option", "", t("canned.source.personal"));
    mine.value = "personal";
    options.push(mine);
    for (const team of (manage.data && manage.data.writable_teams) || []) {
      const o = node("option", "", t("canned.source.team", { team: window.teamNames.label(team) }));
      o.value = `team:${team}`;
      options.push(o);
    }
    select.replaceChildren(...options);
    select.value = reply ? (reply.scope === "team" ? `team:${reply.owner}` : "personal") : "personal";
    select.disabled = Boolean(reply); // a reply keeps its scope
  }

  function shadowNote() {
    const form = document.querySelector(".canned-form");
    const note = form.querySelector(".canned-shadow-note");
    const shortcut = input(form, "shortcut").value.trim().replace(/^\//, "").toLowerCase();
    const personal = input(form, "scope").value === "personal";
    const hidden = personal && shortcut && (manage.data ? manage.data.replies : [])
      .find((r) => r.reply.scope === "team" && r.reply.shortcut === shortcut);
    note.textContent = hidden ? t("canned.will_shadow", { shortcut, team: window.teamNames.label(hidden.reply.owner) }) : "";
  }

  function edit(reply) {
    manage.editing = reply;
    const form = document.querySelector(".canned-form");
    scopeOptions(input(form, "scope"), reply);
    input(form, "shortcut").value = reply ? reply.shortcut : "";
    input(form, "title").value = reply ? reply.title : "";
    input(form, "ru").value = reply ? reply.texts.ru || "" : "";
    input(form, "en").value = reply ? reply.texts.en || "" : "";
    form.querySelector(".form-error").textContent = "";
    form.hidden = false;
    shadowNote();
    input(form, "shortcut").focus();
  }

  async function onSave(event) {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    error.textContent = "";
    const body = { shortcut: input(form, "shortcut").value, title: input(form, "title").value,
      texts: { ru: input(form, "ru").value || null, en: input(form, "en").value || null } };
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      if (manage.editing) {
        await call("PUT", `/api/canned/${encodeURIComponent(manage.editing.id)}`, body);
      } else {
        const [scope, team] = input(form, "scope").value.split(":");
        await call("POST", "/api/canned", { ...body, scope, ...(team ? { team } : {}) });
      }
      form.hidden = true;
      await refresh();
    } catch (err) {
      error.textContent = explain(err);
    } finally {
      button.disabled = false;
    }
  }

  async function remove(reply) {
    if (!window.confirm(t("canned.confirm_delete", { shortcut: reply.shortcut }))) return;
    try {
      await call("DELETE", `/api/canned/${encodeURIComponent(reply.id)}`);
      await refresh();
    } catch (err) {
      document.querySelector(".canned-form .form-error").textContent = explain(err);
    }
  }

  function row(item) {
    const r = item.reply;
    const li = node("li", "canned-row");
    li.dataset.testid = "canned-row";
    li.dataset.id = r.id;
    const top = node("div", "canned-option-top");
    const source = r.scope === "team" ? { source: "team", team: r.owner } : { source: "personal" };
    top.append(node("span", "canned-shortcut", `/${r.shortcut}`), node("span", "canned-title", r.title),
      node("span", `canned-source ${source.source}`, sourceLabel(source)));
    li.append(top);
    for (const lang of ["ru", "en"]) {
      if (r.texts[lang]) li.append(node("div", "canned-text", `${lang.toUpperCase()}: ${r.texts[lang]}`));
    }
    if (item.shadowed_by) {
      const note = node("div", "canned-shadowed muted small", t("canned.shadowed", { shortcut: r.shortcut }));
      note.dataset.testid = "canned-shadowed";
      li.append(note);
    }
    if (item.editable) {
      const actions = node("div", "canned-row-actions");
      const change = node("button", "btn small", t("canned.edit"));
      change.type = "button";
      change.dataset.testid = "canned-edit";
      change.addEventListener("click", () => edit(r));
      const del = node("button", "btn small", t("canned.delete"));
      del.type = "button";
      del.dataset.testid = "canned-delete";
      del.addEventListener("click", () => remove(r));
      actions.append(change, del);
      li.append(actions);
    }
    return li;
  }

  function renderRows() {
    const dialog = dialogUI();
    const words = dialog.querySelector(".canned-search").value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const all = (manage.data && manage.data.replies) || [];
    const shown = all.filter((item) => matches({ ...item.reply, text: Object.values(item.reply.texts).join("\n") },
      words));
    const rows = dialog.querySelector(".canned-rows");
    rows.replaceChildren(...shown.map(row));
    if (!all.length) rows.append(node("li", "canned-empty muted", t("canned.empty")));
    dialog.querySelector(".canned-count").textContent = t("canned.count", { count: all.length });
  }

  async function refresh() {
    manage.data = await call("GET", "/api/canned");
    renderRows();
  }

  async function openDialog() {
    const dialog = dialogUI();
    dialog.querySelector(".canned-form").hidden = true;
    if (!dialog.open) dialog.showModal();
    try {
      await refresh();
    } catch (err) {
      dialog.querySelector(".canned-rows").replaceChildren(node("li", "form-error", explain(err)));
    }
  }

  // ---- wiring --------------------------------------------------------------------------

  function wire() {
    const logout = document.querySelector('[data-testid="logout"]');
    if (logout && !document.querySelector('[data-testid="canned-manage"]')) {
      const button = node("button", "btn ghost", t("canned.manage"));
      button.dataset.i18n = "canned.manage"; // the catalogue may still be loading: translated with the page
      button.type = "button";
      button.dataset.testid = "canned-manage";
      button.addEventListener("click", () => openDialog());
      logout.before(button);
    }
    const form = document.getElementById("reply-form");
    // the capture phase: before the console's own Enter-to-send on the box
    form.addEventListener("keydown", onKeydown, true);
    form.addEventListener("input", (e) => { if (e.target === box()) onInput(); });
    box().addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== box()) closePicker();
    }, 150));
    box().setAttribute("aria-autocomplete", "list");
    // a submit by any other way (the Send button, "send by another channel") holding a "/shortcut": the list
    form.addEventListener("submit", (event) => {
      if (!isShortcutQuery()) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      picker.dismissed = false;
      box().focus(); // the list lives while the box has the focus
      openPicker();
    }, true);
    document.addEventListener("conversation:selected", (event) => {
      const b = box();
      if (picker.conversation) drafts.set(picker.conversation, b.value);
      picker.conversation = event.detail.id;
      picker.offers = null;
      picker.dismissed = false;
      closePicker();
      const draft = drafts.get(picker.conversation) || "";
      if (b.value !== draft) {
        picker.filling = true; // the draft goes back as it was: no list opens by itself
        b.value = draft;
        b.dispatchEvent(new Event("input", { bubbles: true })); // the box's height follows
        picker.filling = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
