// omnirouter console: agents. The "Go online now?" prompt after a sign-in,
// and the Agents screen: the roster for supervisors, and for admins (add, deactivate, reactivate, reset a password,
// rename, role, teams, skills, capacity, presence at sign-in). Built in JS,
// every text through t() and textContent; the server checks every action.
"use strict";

(() => {
  const tr = (key, vars) => window.t(key, vars);

  const { el, testid, button, labelled } = window.consoleScreens;

  // an API error in the console's language when the catalogue has its code
  const errorText = (err) => window.i18n.error(err);

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  // ---- "Go online now?" after a sign-in --------------------------------------

  let justSignedIn = false;

  // answered, the prompt goes: the keyboard it had goes on to the conversations (the first row, else
  // the list's tab shown), not to <body>, from where a Tab runs through the whole console again
  function hidePrompt() {
    const prompt = document.getElementById("presence-prompt");
    if (!prompt) return;
    // (Go online is disabled while it is sent, which already dropped the keyboard to <body>)
    const active = document.activeElement;
    const hadFocus = !active || active === document.body || prompt.contains(active);
    prompt.remove();
    const next = document.querySelector('#conversations [data-testid="conversation"]')
      || document.querySelector('.tabs [aria-selected="true"]');
    if (hadFocus && next) next.focus();
  }

  function showPrompt() {
    hidePrompt();
    const prompt = testid(el("div", "presence-prompt"), "presence-prompt");
    prompt.id = "presence-prompt";
    prompt.setAttribute("role", "alertdialog");
    prompt.setAttribute("aria-label", tr("agents_admin.prompt.title"));
    const text = el("div", "presence-prompt-text");
    text.append(el("strong", "", tr("agents_admin.prompt.title")), el("span", "muted", tr("agents_admin.prompt.body")));
    const error = el("span", "form-error");
    const goOnline = button(tr("agents_admin.prompt.go_online"), "primary", "presence-prompt-online", async () => {
      goOnline.disabled = true;
      try {
        const since = window.consolePresence.version();
        await call("POST", "/api/presence", { presence: "online" });
        window.consolePresence.showPosted("online", since);
        hidePrompt();
      } catch (err) {
        error.textContent = errorText(err);
        goOnline.disabled = false;
      }
    });
    const later = button(tr("agents_admin.prompt.not_now"), "ghost", "presence-prompt-later", hidePrompt);
    const actions = el("div", "presence-prompt-actions");
    actions.append(goOnline, later);
    prompt.append(text, error, actions);
    // in the flow at the top of the conversation list: it covers nothing the agent may need
    const host = document.querySelector("#app .sidebar") || document.getElementById("app");
    host.prepend(prompt);
    goOnline.focus();
  }

  // a presence chosen otherwise (the top bar, another tab) answers the question
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches('[data-testid="presence"]')) hidePrompt();
  });
  document.addEventListener("console:event", (event) => {
    const e = event.detail || {};
    if (e.type === "agent.presence" && screen.me && e.data && e.data.agent_id === screen.me.id
        && e.data.presence !== "offline") hidePrompt();
  });

  async function offerPresence(me) {
    const list = await call("GET", "/api/presence");
    const mine = list.presence.find((p) => p.agent_id === me.id);
    if (!mine || mine.presence === "offline") showPrompt();
  }

  // ---- the Agents screen (admins) ------------------------------------------

  // permissions: the caller's (GET /api/me); the screen shows what they may do, the server checks it
  const screen = { me: null, permissions: [], roster: null, editing: null, form: null };
  const may = (permission) => screen.permissions.includes(permission);

  function showScreenError(err) {
    const box = document.querySelector('#agents-screen [data-testid="agents-error"]');
    if (box) box.textContent = errorText(err);
  }

  async function reload() {
    screen.roster = await call("GET", "/api/agents/roster");
    render();
  }

  function render() {
    const node = agentsScreen.node();
    const head = el("header", "agents-head");
    head.append(el("h2", "", tr("agents_admin.title")), el("span", "spacer"));
    if (may("manage_agents")) {
      head.append(button(tr("agents_admin.add"), "primary", "agents-add", () => { screen.form = { mode: "add" }; render(); }));
    }
    head.append(button(tr("agents_admin.close"), "", "agents-close", agentsScreen.close));
    const error = testid(el("p", "form-error agents-error"), "agents-error");
    error.setAttribute("role", "alert");
    const parts = [head, ...(may("manage_settings") ? [settingsRow()] : []), error];
    if (screen.form) parts.push(agentForm(screen.form));
    const list = testid(el("ul", "agents-list"), "agents-list");
    list.append(...screen.roster.agents.map(agentCard));
    parts.push(list);
    node.replaceChildren(...parts);
  }

  function settingsRow() {
    const row = el("label", "agents-settings");
    const select = testid(el("select"), "presence-at-login");
    for (const value of ["ask", "online"]) {
      const option = el("option", "", tr(`agents_admin.settings.presence_${value}`));
      option.value = value;
      select.append(option);
    }
    select.value = screen.roster.settings.presence_at_login;
    window.onCommittedChoice(select, async () => { // a committed choice, not each arrow key (choice.js)
      try {
        await call("PUT", "/api/agents/settings", { presence_at_login: select.value });
        screen.roster.settings.presence_at_login = select.value;
      } catch (err) {
        select.value = screen.roster.settings.presence_at_login;
        showScreenError(err);
      }
    });
    row.append(el("span", "muted", tr("agents_admin.settings.presence_label")), select);
    return row;
  }

  const teamName = (team) => window.teamNames.label(team);

  function chips(values, className) {
    const box = el("span", "agent-chips");
    box.append(...values.map((v) => el("span", `chip ${className || ""}`, v)));
    return box;
  }

  function orNone(box) {
    return box.childElementCount ? box : el("span", "muted", tr("agents_admin.none"));
  }

  function fieldRow(label, value) {
    const row = el("div", "agent-field");
    row.append(el("span", "muted", label), value);
    return row;
  }

  function describeSkills(skills) {
    return Object.entries(skills).map(([name, level]) => tr("agents_admin.skill_level", { name, level }));
  }

  function describeCapacity(capacity, load) {
    return Object.entries(capacity).map(([kind, max]) => tr("agents_admin.capacity_of", {
      kind: tr(`agents_admin.kinds.${kind}`) === `agents_admin.kinds.${kind}` ? kind : tr(`agents_admin.kinds.${kind}`),
      load: (load || {})[kind] || 0, max,
    }));
  }

  function agentCard(row) {
    const a = row.agent;
    const li = testid(el("li", `agent-card ${a.active ? "" : "inactive"}`), "agent-row");
    li.dataset.username = a.username;
    li.dataset.active = String(a.active);
    const title = el("div", "agent-title");
    const name = testid(el("strong", "", a.display_name), "agent-name");
    const status = testid(el("span", `badge ${a.active ? "presence-" + row.presence : "inactive"}`,
      a.active ? tr(`presence.${row.presence}`) : tr("agents_admin.inactive")), "agent-status");
    title.append(name, el("span", "muted", `@${a.username}`), el("span", "badge role", tr(`roles.${a.role}`)),
      status);
    const r = row.routing;
    const source = testid(el("span", `source source-${r.source}`, tr(`agents_admin.source.${r.source}`)), "agent-source");
    const fields = el("div", "agent-fields");
    fields.append(
      fieldRow(tr("agents_admin.teams"), orNone(chips(r.teams.map(teamName)))),
      fieldRow(tr("agents_admin.skills"), orNone(chips(describeSkills(r.skills)))),
      fieldRow(tr("agents_admin.capacity"), orNone(chips(describeCapacity(r.capacity, row.load)))),
      fieldRow(tr("agents_admin.routing_from"), source),
    );
    if (r.file_teams) fields.append(fieldRow(tr("agents_admin.file_teams"), chips(r.file_teams.map(teamName), "file")));
    if (may("manage_presence") && a.active && (!screen.me || a.id !== screen.me.id)) {
      fields.append(fieldRow(tr("presence.label"), presenceSelect(row)));
    }
    const stale = [...r.stale_teams, ...r.stale_skills];
    if (stale.length) {
      fields.append(testid(el("p", "agent-stale", tr("agents_admin.stale", { names: stale.join(", ") })), "agent-stale"));
    }
    li.append(title, fields);
    if (may("manage_agents")) li.append(agentActions(row));
    return li;
  }

  // supervisors and admins: set a colleague away or offline (offline gives back their unopened offers)
  function presenceSelect(row) {
    const select = testid(el("select"), "agent-presence");
    select.setAttribute("aria-label", tr("supervisor.presence_of", { name: row.agent.display_name }));
    for (const value of ["online", "away", "offline"]) {
      const option = el("option", "", tr(`presence.${value}`));
      option.value = value;
      option.disabled = value === "online"; // shown when it is theirs; only they put themselves online
      select.append(option);
    }
    select.value = row.presence;
    window.onCommittedChoice(select, () => { // a committed choice, not each arrow key (choice.js)
      act("/api/presence", { presence: select.value, agent_id: row.agent.id });
    });
    return select;
  }

  function agentActions(row) {
    const a = row.agent;
    const actions = el("div", "agent-actions");
    actions.append(button(tr("agents_admin.edit"), "", "agent-edit", () => {
      screen.form = { mode: "edit", row };
      render();
    }));
    if (a.active) {
      if (!screen.me || a.id !== screen.me.id) {
        actions.append(button(tr("agents_admin.deactivate"), "danger", "agent-deactivate", () => deactivate(row)));
      }
    } else {
      actions.append(button(tr("agents_admin.reactivate"), "", "agent-reactivate", () => act(`/api/agents/${enc(a.id)}/reactivate`)));
    }
    actions.append(button(tr("agents_admin.reset_password"), "", "agent-reset", () => resetPassword(row)));
    return actions;
  }

  const enc = encodeURIComponent;

  async function act(path, body, method) {
    try {
      const data = await call(method || "POST", path, body);
      await reload();
      return data;
    } catch (err) {
      showScreenError(err);
      return null;
    }
  }

  async function deactivate(row) {
    if (!window.confirm(tr("agents_admin.confirm_deactivate", { name: row.agent.display_name }))) return;
    await act(`/api/agents/${enc(row.agent.id)}/deactivate`);
  }

  async function resetPassword(row) {
    screen.form = { mode: "password", row };
    render();
  }

  // the one place a generated password is shown: until the admin closes it
  function passwordNotice(username, password) {
    const box = testid(el("div", "password-once"), "password-once");
    const value = testid(el("code", "password-value", password), "generated-password");
    box.append(el("p", "", tr("agents_admin.password_once", { username })), value,
      button(tr("agents_admin.done"), "", "password-done", () => { screen.form = null; render(); }));
    return box;
  }

  function input(name, value, attrs) {
    const node = el("input");
    node.name = name;
    node.value = value || "";
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    return node;
  }

  function roleSelect(current) {
    const select = el("select");
    select.name = "role";
    for (const role of screen.roster.roles) {
      const option = el("option", "", tr(`roles.${role}`));
      option.value = role;
      select.append(option);
    }
    select.value = current || "agent";
    return select;
  }

  // teams as checkboxes, skills as a level 0-5 each, capacity per channel kind
  function routingFields(routing) {
    const box = testid(el("fieldset", "agent-routing"), "agent-routing");
    box.append(el("legend", "", tr("agents_admin.routing_legend")));
    const teams = el("div", "agent-checks");
    for (const team of screen.roster.teams) {
      const label = el("label", "check");
      const box2 = input(`team:${team}`, "", { type: "checkbox" });
      box2.value = team;
      box2.checked = routing.teams.includes(team);
      label.append(box2, el("span", "", teamName(team)));
      teams.append(label);
    }
    box.append(labelled(tr("agents_admin.teams"), teams));
    const skills = el("div", "agent-levels");
    for (const skill of screen.roster.skills) {
      const select = el("select");
      select.name = `skill:${skill}`;
      for (let level = 0; level <= 5; level++) {
        const option = el("option", "", level === 0 ? "—" : String(level));
        option.value = String(level);
        select.append(option);
      }
      select.value = String(routing.skills[skill] || 0);
      skills.append(labelled(skill, select));
    }
    if (screen.roster.skills.length) box.append(labelled(tr("agents_admin.skills"), skills));
    const capacity = el("div", "agent-levels");
    for (const kind of screen.roster.channel_kinds) {
      const name = tr(`agents_admin.kinds.${kind}`) === `agents_admin.kinds.${kind}` ? kind : tr(`agents_admin.kinds.${kind}`);
      const value = routing.capacity[kind] === undefined ? "0" : String(routing.capacity[kind]);
      capacity.append(labelled(name, input(`capacity:${kind}`, value, { type: "number", min: "0", max: "100" })));
    }
    box.append(labelled(tr("agents_admin.capacity"), capacity));
    return box;
  }

  function readRouting(form) {
    const routing = { teams: [], skills: {}, capacity: {} };
    for (const node of form.elements) {
      if (!node.name) continue;
      const [kind, name] = node.name.split(":");
      if (kind === "team" && node.checked) routing.teams.push(name);
      if (kind === "skill" && Number(node.value) > 0) routing.skills[name] = Number(node.value);
      if (kind === "capacity" && node.value !== "") routing.capacity[name] = Number(node.value);
    }
    return routing;
  }

  function sameRouting(a, b) {
    const norm = (r) => JSON.stringify([
      [...r.teams].sort(),
      screen.roster.skills.map((skill) => r.skills[skill] || 0),
      screen.roster.channel_kinds.map((kind) => r.capacity[kind] || 0),
    ]);
    return norm(a) === norm(b);
  }

  // what the add form shows: sent only when the admin changed it, so an agent teams.yaml
  // lists keeps the file's entry (a console profile would replace it)
  const ADD_ROUTING = { teams: [], skills: {}, capacity: { chat: 3, email: 5 } };

  function agentForm(state) {
    if (state.password) return passwordNotice(state.username, state.password);
    const form = testid(el("form", "agent-form"), `agent-form-${state.mode}`);
    form.noValidate = true;
    const error = testid(el("p", "form-error"), "agent-form-error");
    error.setAttribute("role", "alert");
    const row = state.row;
    if (state.mode === "add") {
      form.append(el("h3", "", tr("agents_admin.add_title")),
        labelled(tr("agents_admin.username"), input("username", "", { autocomplete: "off", autocapitalize: "none", spellcheck: "false" })),
        labelled(tr("agents_admin.display_name"), input("display_name", "", { autocomplete: "off" })),
        labelled(tr("agents_admin.role"), roleSelect("agent")),
        labelled(tr("agents_admin.password"), input("password", "", { type: "password", autocomplete: "new-password", placeholder: tr("agents_admin.password_blank") })),
        routingFields(ADD_ROUTING));
      // the server's usernames are lowercase: «Ivan» becomes «ivan» as it is typed, not a refusal
      const username = form.elements.username;
      username.addEventListener("input", () => {
        const lower = username.value.toLowerCase();
        if (lower !== username.value) {
          const at = username.selectionStart;
          username.value = lower;
          username.setSelectionRange(at, at);
        }
      });
    } else if (state.mode === "edit") {
      form.append(el("h3", "", tr("agents_admin.edit_title", { name: row.agent.display_name })),
        labelled(tr("agents_admin.display_name"), input("display_name", row.agent.display_name)),
        labelled(tr("agents_admin.role"), roleSelect(row.agent.role)),
        routingFields(row.routing));
    } else {
      form.append(el("h3", "", tr("agents_admin.reset_title", { name: row.agent.display_name })),
        labelled(tr("agents_admin.password"), input("password", "", { type: "password", autocomplete: "new-password", placeholder: tr("agents_admin.password_blank") })));
    }
    const actions = el("div", "agent-form-actions");
    const save = testid(el("button", "btn primary", tr("agents_admin.save")), "agent-save");
    save.type = "submit";
    actions.append(save);
    if (state.mode === "edit" && row.routing.source === "console") {
      actions.append(button(tr("agents_admin.use_file"), "", "agent-use-file", async () => {
        if (await act(`/api/agents/${enc(row.agent.id)}/routing`, {}, "DELETE")) { screen.form = null; render(); }
      }));
    }
    actions.append(button(tr("agents_admin.cancel"), "ghost", "agent-cancel", () => { screen.form = null; render(); }));
    form.append(error, actions);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save.disabled = true;
      submit(state, form).catch((err) => { error.textContent = errorText(err); })
        .finally(() => { save.disabled = false; });
    });
    return form;
  }

  async function submit(state, form) {
    const value = (name) => form.elements[name].value;
    if (state.mode === "add") {
      const body = { username: value("username").trim().toLowerCase(), display_name: value("display_name"),
        role: value("role") };
      const routing = readRouting(form);
      if (!sameRouting(routing, ADD_ROUTING)) body.routing = routing;
      if (value("password")) body.password = value("password");
      const created = await call("POST", "/api/agents", body);
      screen.form = created.password ? { password: created.password, username: created.agent.username } : null;
    } else if (state.mode === "edit") {
      const id = enc(state.row.agent.id);
      const change = {};
      if (value("display_name") !== state.row.agent.display_name) change.display_name = value("display_name");
      if (value("role") !== state.row.agent.role) change.role = value("role");
      if (Object.keys(change).length) await call("PATCH", `/api/agents/${id}`, change);
      // only a change becomes a console profile: an untouched teams.yaml entry stays the file's
      const routing = readRouting(form);
      if (!sameRouting(routing, state.row.routing)) await call("PUT", `/api/agents/${id}/routing`, routing);
      screen.form = null;
    } else {
      const body = value("password") ? { password: value("password") } : {};
      const done = await call("POST", `/api/agents/${enc(state.row.agent.id)}/password`, body);
      screen.form = done.password ? { password: done.password, username: state.row.agent.username } : null;
    }
    if (screen.form && screen.form.password) {
      // shown before anything else can fail: a generated password exists nowhere else
      render();
      await reload().catch(showScreenError);
      return;
    }
    await reload();
  }

  // ---- wiring -------------------------------------------------------------

  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches('[data-testid="login-form"]')) justSignedIn = true;
  }, true);

  // admins manage the accounts here; supervisors see the roster (presence, teams, load), read-only
  async function allowed() {
    const data = await window.consoleApi.me();
    screen.me = data.agent;
    screen.permissions = data.permissions || [];
    return may("view_roster");
  }

  async function afterShown() {
    if (justSignedIn) {
      justSignedIn = false;
      await offerPresence(screen.me);
    }
  }

  const agentsScreen = window.consoleScreens.define({
    name: "agents", title: "agents_admin.title", openLabel: "agents_admin.open", allowed, afterShown,
    opened: () => reload(),
    closed: () => {
      screen.editing = null;
      screen.form = null;
    },
    signedOut: hidePrompt,
    showError: showScreenError,
  });

  let reloadTimer = null;
  function scheduleReload() {
    if (reloadTimer !== null) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      if (agentsScreen.isOpen() && !screen.form) reload().catch(() => {});
    }, 1000);
  }

  // the roster follows what happens: presence, accounts, assignments
  document.addEventListener("console:event", (event) => {
    const type = event.detail && event.detail.type;
    if (!agentsScreen.isOpen() || screen.form) return;
    // presence and accounts (agent.*) and loads (conversation events), at most once a second
    if (type && (type.startsWith("agent.") || type.startsWith("conversation"))) scheduleReload();
  });
})();
