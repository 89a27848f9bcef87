// omnirouter console: "Why is this here?" — the routing trace of the selected
// conversation. Everything is set with textContent: facts include customer text.
"use strict";

(() => {
  const panel = () => document.getElementById("why");

  function line(className, text) {
    const node = document.createElement("div");
    node.className = className;
    node.textContent = text;
    return node;
  }

  function conditionLine(cond) {
    const value = cond.value === null ? "skipped" : String(cond.value);
    const node = line(`why-cond why-${value}`, `${t(`why.${value}`).padEnd(7)} ${cond.expression}`);
    if (cond.error) node.title = cond.error;
    return node;
  }

  function render(route) {
    const body = document.getElementById("why-body");
    const items = [];
    if (!route.trace) {
      items.push(line("why-step", route.reason || t("why.no_rules")));
    } else {
      const trace = route.trace;
      items.push(line("why-step", `→ ${trace.step}`));
      items.push(line("muted", trace.matched_rule ? t("why.matched", { rule: trace.matched_rule }) : t("why.none_matched")));
      for (const rule of trace.rules) {
        items.push(line(`why-rule ${rule.matched ? "why-matched" : ""}`, `${rule.matched ? "✓" : "✗"} ${rule.rule}`));
        rule.conditions.forEach((c) => items.push(conditionLine(c)));
      }
      items.push(line("muted", t("why.version", { version: trace.rules_version, when: fmt.dateTime(trace.decided_at) })));
    }
    body.replaceChildren(...items);
    body.dataset.conversation = route.conversation_id;
  }

  const api = window.consoleApi; // api.js: the console's one way to the API

  async function load(id) {
    render(await api.get(`/api/conversations/${encodeURIComponent(id)}/route`));
  }

  const post = (path, body) => api.call("POST", path, body);

  // presence: the select in the top bar shows and switches the agent's own
  // bumped by each newer word on the agent's presence (their pick, the live event of a change made
  // elsewhere): a read answered before it never shows over it
  let presenceVersion = 0;
  let presenceLoads = 0;
  let presenceChangedAt = 0; // ms: when the change shown was made, as the server tells it
  async function loadPresence() {
    const select = document.querySelector('[data-testid="presence"]');
    if (!select) return;
    const versionBefore = presenceVersion;
    presenceLoads += 1;
    select.setAttribute("aria-busy", "true");
    try {
      const [me, list] = await Promise.all([api.me(), api.get("/api/presence")]);
      if (!me || !list || versionBefore !== presenceVersion) return;
      const mine = list.presence.find((p) => p.agent_id === me.agent.id);
      select.value = mine ? mine.presence : "offline";
      presenceChangedAt = mine ? Date.parse(mine.changed_at) : 0;
    } finally {
      presenceLoads -= 1;
      if (presenceLoads === 0) select.removeAttribute("aria-busy");
    }
  }

  // a committed choice only (choice.js): arrowing through the list put the agent online on the way
  // to "offline", and an agent put online is offered conversations at once
  window.onCommittedChoice(document.querySelector('[data-testid="presence"]'), (value) => {
    presenceVersion += 1;
    post("/api/presence", { presence: value }).catch(() => loadPresence().catch(() => {}));
  });

  // the prompt's "Go online" (agents.js): its POST answered; shown unless a newer word came meanwhile
  function showPosted(value, since) {
    const select = document.querySelector('[data-testid="presence"]');
    if (!select || since !== presenceVersion) return;
    presenceVersion += 1;
    select.value = value;
  }
  window.consolePresence = { version: () => presenceVersion, showPosted };

  // the socket opened again: a change made while it was down came as no event (the first
  // opening needs no read of its own: showing #app after the sign-in reads it, below)
  document.addEventListener("console:connected", (event) => {
    if (event.detail && event.detail.reconnected) loadPresence().catch(() => {});
  });

  // the agent's presence changed elsewhere (another tab, a supervisor, the prompt at sign-in): shown at once
  document.addEventListener("console:event", (event) => {
    const e = event.detail || {};
    if (e.type !== "agent.presence" || !e.data) return;
    api.me().then((me) => {
      const select = document.querySelector('[data-testid="presence"]');
      if (!select || !me || e.data.agent_id !== me.agent.id) return; // a colleague's: not this select's
      // two changes at once may be told in the other order (a node, a wait between write and event)
      const at = Date.parse(e.data.changed_at);
      if (at < presenceChangedAt) return;
      presenceChangedAt = at;
      presenceVersion += 1;
      select.value = e.data.presence;
    }).catch(() => loadPresence().catch(() => {}));
  });

  // roles granted manage_rules (admins): a refused rules or bot.yaml edit shows as a banner until a good one loads
  async function loadRulesStatus() {
    const banner = document.getElementById("rules-error");
    if (!banner) return false;
    const status = await api.get("/api/rules/status");
    const bot = (status.bot && status.bot.problems) || [];
    const shown = [];
    if (status.problems.length) {
      shown.push(line("rules-error-title", t("rules.refused", { version: status.version })),
        ...status.problems.map((p) => line("rules-error-line", p)));
    }
    if (bot.length) {
      shown.push(line("rules-error-title", t("rules.bot_refused")), ...bot.map((p) => line("rules-error-line", p)));
    }
    banner.hidden = shown.length === 0;
    banner.replaceChildren(...shown);
    return true;
  }

  let rulesTimer = null;
  async function watchRules() {
    if (rulesTimer !== null) return;
    // only a role that may see the rules asks for them (the others would get a 403 on every load)
    if (!(await api.may("manage_rules"))) return;
    if (await loadRulesStatus()) rulesTimer = setInterval(() => loadRulesStatus().catch(() => {}), 10000);
  }

  // my own role changed (api.js asked /api/me again): a role that lost manage_rules stops asking
  document.addEventListener("console:permissions", (event) => {
    const allowed = (event.detail.permissions || []).includes("manage_rules");
    if (!allowed && rulesTimer !== null) {
      clearInterval(rulesTimer);
      rulesTimer = null;
      const banner = document.getElementById("rules-error");
      if (banner) banner.hidden = true;
    }
    if (allowed) watchRules().catch(() => {});
  });

  // SLA: rows of conversations past their first-response target get a mark
  // conversation id -> seconds waited, said as a duration ("12 мин 5 с"): a target of seconds said
  // "0 минут" in whole minutes, and a wait over a weekend "3 600 минут"
  let breached = new Map();
  function markBreaches() {
    document.querySelectorAll('#conversations [data-testid="conversation"]').forEach((row) => {
      const late = breached.get(row.dataset.id);
      row.classList.toggle("sla-breached", late !== undefined);
      row.dataset.sla = late !== undefined ? "breached" : "";
      if (late !== undefined) row.title = t("sla.breached", { waited: fmt.duration(late) });
    });
  }

  async function loadSla() {
    const data = await api.get("/api/sla");
    breached = new Map(data.breached.map((b) => [b.conversation_id, b.waiting_seconds]));
    markBreaches();
  }

  let slaTimer = null;
  function watchSla() {
    if (slaTimer !== null) return;
    loadSla().catch(() => {});
    slaTimer = setInterval(() => loadSla().catch(() => {}), 10000);
    const list = document.getElementById("conversations");
    if (list) new MutationObserver(markBreaches).observe(list, { childList: true });
  }

  // transfer: a select of teams beside Take/Resolve
  let selected = null;
  // teams: GET /api/teams's list, when teams.js has just read it (not asked for again)
  async function loadTeams(teams) {
    const select = document.querySelector('[data-testid="transfer"]');
    if (!select) return;
    const options = (teams || (await api.get("/api/teams")).teams).map((t) => {
      const option = document.createElement("option");
      option.value = t.name;
      option.textContent = window.t("actions.transfer_team", { team: window.teamNames.label(t.name) });
      return option;
    });
    const shown = select.value;
    select.replaceChildren(select.options[0], ...options);
    // an agent walking the list with the arrows when the teams come again (their titles after the
    // sign-in, a rules reload) keeps the team they were on: it fell back to the placeholder
    if (document.activeElement === select && options.some((o) => o.value === shown)) select.value = shown;
    select.hidden = options.length === 0;
  }

  // on a committed choice only (choice.js): an agent walking the list with the arrows transfers nothing
  function transfer(team) {
    const select = document.querySelector('[data-testid="transfer"]');
    select.value = "";
    if (!selected) return;
    post(`/api/conversations/${encodeURIComponent(selected)}/transfer`, { team })
      .catch((err) => { document.getElementById("reply-error").textContent = i18n.error(err); });
  }

  document.addEventListener("conversation:selected", (event) => { selected = event.detail.id; });

  document.addEventListener("DOMContentLoaded", () => {
    const app = document.getElementById("app");
    if (!app) return;
    window.onCommittedChoice(document.querySelector('[data-testid="transfer"]'), transfer);
    // the console shows #app after a login: that is when presence can be read
    new MutationObserver(() => {
      if (app.hidden) {
        presenceVersion += 1; // signed out: a read still on its way is the last agent's
        presenceChangedAt = 0;
        return;
      }
      loadPresence().catch(() => {});
      watchRules().catch(() => {});
      watchSla();
      loadTeams().catch(() => {});
    }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
  });

  // the teams' titles came (after the sign-in's first paint) or changed (rules reloaded): named again
  document.addEventListener("console:teams", (event) => loadTeams(event.detail).catch(() => {}));

  document.addEventListener("conversation:selected", (event) => {
    // opening a conversation offered to me takes the offer (no-op otherwise)
    post(`/api/conversations/${encodeURIComponent(event.detail.id)}/open`).catch(() => {});
    const node = panel();
    if (!node) return;
    node.open = false;
    node.dataset.conversation = event.detail.id;
    document.getElementById("why-body").replaceChildren();
  });

  document.addEventListener("toggle", (event) => {
    const node = panel();
    if (event.target !== node || !node.open || !node.dataset.conversation) return;
    load(node.dataset.conversation).catch((err) => {
      document.getElementById("why-body").replaceChildren(line("form-error", String(err.message || err)));
    });
  }, true);
})();
