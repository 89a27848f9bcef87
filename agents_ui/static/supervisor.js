// omnirouter console: what a role granted "reassign" (supervisors, admins) adds to a
// conversation's header: a "Reassign to…" select of every active agent, whoever has
// the conversation now. The console shows it by the caller's permissions (GET /api/me),
// never by the role's name; the server checks every assignment again.
"use strict";

(() => {
  const tr = (key, vars) => window.t(key, vars);
  const state = { permissions: [], agents: [], conversation: null };

  const may = (permission) => state.permissions.includes(permission);

  const getJson = (path) => window.consoleApi.get(path); // api.js: the console's one way to the API

  function select() {
    let node = document.querySelector('[data-testid="reassign"]');
    if (node) return node;
    node = document.createElement("select");
    node.dataset.testid = "reassign";
    node.className = "transfer reassign";
    node.setAttribute("aria-label", tr("supervisor.reassign_aria"));
    node.hidden = true;
    // on a committed choice only (choice.js): walking the list with the arrows reassigns nobody
    window.onCommittedChoice(node, () => reassign(node).catch(showError));
    const transfer = document.querySelector('[data-testid="transfer"]');
    transfer.parentNode.insertBefore(node, transfer.nextSibling);
    return node;
  }

  function fill(node) {
    const conv = state.conversation;
    const first = document.createElement("option");
    first.value = "";
    first.textContent = tr("supervisor.reassign");
    const options = state.agents
      .filter((a) => a.active && !(conv && conv.status === "assigned" && conv.agent_id === a.id))
      .map((a) => {
        const option = document.createElement("option");
        option.value = a.id;
        option.textContent = tr("supervisor.reassign_to", { name: a.display_name });
        return option;
      });
    // drawn again at each change of the conversation: a supervisor walking the list with the arrows
    // keeps the agent they were on (it fell back to the placeholder whenever the customer wrote)
    const shown = document.activeElement === node ? node.value : "";
    node.replaceChildren(first, ...options);
    node.value = options.some((o) => o.value === shown) ? shown : "";
  }

  function decorateHeader(conv) {
    state.conversation = conv;
    if (!may("reassign")) return;
    const node = select();
    fill(node);
    node.hidden = conv.status === "resolved";
  }

  async function reassign(node) {
    const conv = state.conversation;
    const agentId = node.value;
    node.value = "";
    if (!conv || !agentId) return;
    await window.consoleApi.call("POST", `/api/conversations/${encodeURIComponent(conv.id)}/assign`,
      { agent_id: agentId });
    // the conversation.assigned event redraws the header and the list
  }

  function showError(err) {
    const box = document.getElementById("reply-error");
    if (box) box.textContent = window.i18n.error(err);
  }

  async function load() {
    const me = await window.consoleApi.me();
    state.permissions = me.permissions || [];
    const node = document.querySelector('[data-testid="reassign"]');
    if (!may("reassign")) {
      if (node) node.hidden = true;
      state.agents = [];
      return;
    }
    state.agents = (await getJson("/api/agents")).agents;
    if (state.conversation) decorateHeader(state.conversation);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const app = document.getElementById("app");
    if (!app) return;
    // the console shows #app after a sign-in: whose permissions, and which agents, are known then
    new MutationObserver(() => {
      if (!app.hidden) load().catch(() => {});
    }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
  });

  // my own role changed (api.js asked /api/me again): the Reassign select follows it
  document.addEventListener("console:permissions", () => load().catch(() => {}));

  // a new account, a deactivation or a role changed: the list of agents follows
  document.addEventListener("console:event", (event) => {
    const type = event.detail && event.detail.type;
    if (type && type.startsWith("agent.") && type !== "agent.presence") load().catch(() => {});
  });

  window.supervisorUI = { decorateHeader };
})();
