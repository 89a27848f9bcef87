// omnirouter console: teams by the names people read. teams.yaml gives a team
// an id (what rules, files and the API use) and may give it a title, one text
// or one per language; every panel that names a team asks label() here, which
// answers the title in the console's language, else the id. Read from
// GET /api/teams at sign-in and again when the rules are reloaded (an admin
// renamed a team); every text reaches the page through textContent.
"use strict";

window.teamNames = (() => {
  let labels = new Map(); // team id -> its title in the console's language

  async function load() {
    const data = await window.consoleApi.get("/api/teams");
    labels = new Map(data.teams.map((team) => [team.name, (team.title && team.title[i18n.lang]) || team.name]));
    document.dispatchEvent(new CustomEvent("console:teams", { detail: data.teams })); // routing.js: the transfer list
  }

  function label(team) {
    return labels.get(team) || team;
  }

  document.addEventListener("console:event", (event) => {
    if (event.detail.type === 'rules.reloaded') load().catch(() => {});
  });

  return { load, label };
})();
