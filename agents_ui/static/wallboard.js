// omnirouter console: the live wallboard, for supervisors and admins. A screen
// over the console, readable on a wall (large figures): per team and channel
// the queue, the longest wait, SLA breaches, the bot's, valuable customers
// waiting; agents online, away and busy and their load against capacity.
// GET /api/wallboard when it opens, then a wallboard.subscribe frame on the
// console's socket: the server pushes wallboard.updated (at most once a second,
// only what changed) until the screen closes. Every text through t() and
// textContent; numbers and durations through fmt.
"use strict";

(() => {
  const tr = (key, vars) => window.t(key, vars);
  const num = (n) => window.fmt.number(n);
  // received: when the last board came (this clock); every: the longest the server goes between two
  const state = { open: false, snapshot: null, offset: 0, ticker: null, me: null, received: 0, every: 15 };

  // who may open it: those granted "supervise" (GET /api/me lists the caller's permissions); the server checks it
  const mayWatch = (me) => (me.permissions || []).includes("supervise");

  const { el, testid, button } = window.consoleScreens;

  const call = (path) => window.consoleApi.get(path); // api.js: the console's one way to the API

  // the socket's frame types (not catalogue keys, though shaped alike)
  const UPDATED = `wallboard.updated`;
  const frame = (action) => ({ type: `wallboard.${action}` });

  function send(message) {
    if (window.consoleSend) window.consoleSend(message); // console.js: its websocket, when open
  }

  // ---- durations -----------------------------------------------------------

  // "45s", "12m 5s", "2h 10m" in the console's language (i18n.js: the SLA's marks say it alike)
  const duration = (seconds) => window.fmt.duration(seconds);

  // the wait now, on the server's clock: the snapshot's `at` plus what passed here since it came
  function waitOf(oldest) {
    if (!oldest) return null;
    return (Date.now() - state.offset - Date.parse(oldest)) / 1000;
  }

  // ---- drawing -------------------------------------------------------------

  function tile(label, value, id, extra) {
    const node = testid(el("div", `wb-tile ${extra || ""}`), id);
    node.append(el("span", "wb-value", value), el("span", "wb-label", label));
    return node;
  }

  function waitTile(figures, id) {
    const wait = waitOf(figures.oldest_queued_at);
    const node = tile(tr("wallboard.longest_wait"), wait === null ? "—" : duration(wait), id, "wb-wait");
    if (figures.oldest_queued_at) node.dataset.since = figures.oldest_queued_at;
    return node;
  }

  function figureTiles(figures, agents, prefix) {
    const box = el("div", "wb-tiles");
    box.append(
      tile(tr("wallboard.queued"), num(figures.queued), `${prefix}-queued`, figures.queued ? "wb-hot" : ""),
      waitTile(figures, `${prefix}-wait`),
      tile(tr("wallboard.sla_breached"), num(figures.sla_breached), `${prefix}-breached`,
        figures.sla_breached ? "wb-alarm" : ""),
      tile(tr("wallboard.valuable_waiting"), num(figures.valuable_waiting), `${prefix}-valuable`,
        figures.valuable_waiting ? "wb-alarm" : ""),
      tile(tr("wallboard.bot"), num(figures.bot), `${prefix}-bot`),
      tile(tr("wallboard.assigned"), num(figures.assigned), `${prefix}-assigned`),
    );
    if (agents) {
      box.append(
        tile(tr("wallboard.online"), num(agents.online), `${prefix}-online`),
        tile(tr("wallboard.busy"), num(agents.busy), `${prefix}-busy`),
        tile(tr("wallboard.away"), num(agents.away), `${prefix}-away`),
      );
    }
    return box;
  }

  function kindName(kind) {
    const key = `wallboard.kinds.${kind}`;
    return window.i18next.exists(key) ? tr(key) : kind;
  }

  function loads(team) {
    const box = el("div", "wb-loads");
    for (const load of team.loads) {
      const row = testid(el("div", "wb-load"), `wb-load-${load.kind}`);
      const bar = el("span", "wb-bar");
      const fill = el("span", "wb-fill");
      const share = load.capacity ? Math.min(1, load.load / load.capacity) : (load.load ? 1 : 0);
      fill.style.width = `${Math.round(share * 100)}%`;
      if (share >= 1) row.classList.add("wb-full");
      bar.append(fill);
      row.append(el("span", "wb-load-kind", kindName(load.kind)), bar,
        el("span", "wb-load-text", tr("wallboard.load_of", { load: num(load.load), capacity: num(load.capacity) })));
      box.append(row);
    }
    return box;
  }

  function channelTable(team) {
    const wrap = el("div", "wb-table-wrap");
    const table = el("table", "wb-table");
    const head = el("tr");
    for (const key of ["channel", "queued", "longest_wait", "sla_breached", "valuable_waiting", "bot", "assigned"]) {
      head.append(el("th", "", tr(`wallboard.${key}`)));
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const body = el("tbody");
    for (const c of team.channels) {
      const row = testid(el("tr"), `wb-channel-${c.channel}`);
      const wait = waitOf(c.oldest_queued_at);
      const waitCell = el("td", "wb-wait-cell", wait === null ? "—" : duration(wait));
      if (c.oldest_queued_at) waitCell.dataset.since = c.oldest_queued_at;
      row.append(el("td", "", window.channelSwitch ? window.channelSwitch.label(c.channel) : c.channel),
        testid(el("td", "", num(c.queued)), "wb-channel-queued"), waitCell,
        el("td", c.sla_breached ? "wb-alarm-text" : "", num(c.sla_breached)),
        el("td", "", num(c.valuable_waiting)), el("td", "", num(c.bot)), el("td", "", num(c.assigned)));
      body.append(row);
    }
    table.append(body);
    wrap.append(table);
    return wrap;
  }

  function teamCard(team) {
    const name = team.team === null ? tr("wallboard.no_team") : window.teamNames.label(team.team);
    const card = testid(el("section", "wb-team"), `wb-team-${team.team === null ? "none" : team.team}`);
    card.append(el("h3", "", name), figureTiles(team.figures, team.team === null ? null : team.agents, "wb-team"));
    if (team.loads.length) card.append(loads(team));
    if (team.channels.length) card.append(channelTable(team));
    return card;
  }

  function render() {
    const node = wallboardScreen.node();
    const body = node.querySelector(".wb-body");
    const snap = state.snapshot;
    if (!snap) return;
    node.querySelector('[data-testid="wb-updated"]').textContent =
      tr("wallboard.updated", { time: window.fmt.time(snap.at) });
    const teams = el("div", "wb-teams");
    snap.teams.forEach((team) => teams.append(teamCard(team)));
    const parts = [testid(figureTiles(snap.totals, snap.agents, "wb-total"), "wb-totals"), teams];
    if (snap.bot && snap.bot.failing) {
      // the bot's answers fail (router/bot/health.py): its customers all go to the queues meanwhile
      const alarm = testid(el("p", "wb-alarm wb-bot-failing",
        tr("wallboard.bot_failing", { failed: num(snap.bot.failed), answered: num(snap.bot.answered) })),
      "wb-bot-failing");
      alarm.setAttribute("role", "alert");
      parts.unshift(alarm);
    }
    body.replaceChildren(...parts);
  }

  // no board for three of the server's heartbeats: the socket is stuck or gone (the console reconnects and
  // subscribes again); until then the screen says how old its figures are instead of looking live
  function staleness() {
    const node = document.getElementById("wallboard-screen");
    if (!node || !state.snapshot) return;
    const age = (Date.now() - state.received) / 1000;
    const stale = age > state.every * 3;
    node.classList.toggle("wb-stale", stale);
    node.querySelector('[data-testid="wb-updated"]').textContent = stale
      ? tr("wallboard.stale", { ago: duration(age) })
      : tr("wallboard.updated", { time: window.fmt.time(state.snapshot.at) });
  }

  // the waits grow between two snapshots: redrawn each second from the times they count from
  function tick() {
    staleness();
    document.querySelectorAll("#wallboard-screen [data-since]").forEach((node) => {
      const target = node.classList.contains("wb-tile") ? node.querySelector(".wb-value") : node;
      target.textContent = duration(waitOf(node.dataset.since));
    });
  }

  function show(snapshot, every) {
    state.snapshot = snapshot;
    state.received = Date.now();
    if (every) state.every = every;
    state.offset = Date.now() - Date.parse(snapshot.at);
    render();
    staleness();
  }

  // ---- the screen ----------------------------------------------------------

  function head(node) {
    const top = el("header", "wb-head");
    top.append(el("h2", "", tr("wallboard.title")), testid(el("span", "muted wb-updated"), "wb-updated"),
      el("span", "spacer"), button(tr("wallboard.close"), "", "wallboard-close", wallboardScreen.close));
    node.append(top, testid(el("p", "wb-error", ""), "wb-error"), el("div", "wb-body"));
  }

  function showError(err) {
    wallboardScreen.node().querySelector('[data-testid="wb-error"]').textContent = window.i18n.error(err);
  }

  async function opened() {
    state.open = true;
    send(frame("subscribe"));
    if (!state.ticker) state.ticker = setInterval(tick, 1000);
    const snapshot = await call("/api/wallboard");
    if (state.open && !state.snapshot) show(snapshot); // a push may have come first: it is as new
  }

  function closed() {
    if (state.open) send(frame("unsubscribe"));
    state.open = false;
    state.snapshot = null;
    clearInterval(state.ticker);
    state.ticker = null;
  }

  // the board has no field of its own: over it every key stops, one typed in a field behind it too
  const wallboardScreen = window.consoleScreens.define({
    name: "wallboard", title: "wallboard.title", openLabel: "wallboard.open",
    allowed: async () => mayWatch(await window.consoleApi.me()), opened, closed, build: head, showError,
    fieldsKeepKeys: false,
  });

  // ---- wiring --------------------------------------------------------------

  document.addEventListener("console:event", (event) => {
    const e = event.detail || {};
    if (e.type === UPDATED && state.open) show(e.data, e.every);
  });
  // a new socket (reconnected) knows nothing of the old one's subscription
  document.addEventListener("console:connected", () => {
    if (state.open) send(frame("subscribe"));
  });

  window.wallboard = {
    open: () => wallboardScreen.open().catch(showError), close: wallboardScreen.close, mayWatch,
  };
})();
