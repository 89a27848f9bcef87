// omnirouter console: the Reports screen (supervisors and admins: permission "supervise").
// A range and a grouping; the figures of GET /api/reports/figures as bar charts drawn in
// plain SVG and as a table; CSV downloads of the same. Every text through t() and
// textContent; the figures are defined in the README ("Reports").
"use strict";

(() => {
  const tr = (key, vars) => window.t(key, vars);
  const SVG = "http://www.w3.org/2000/svg";
  const GROUPS = ["day", "hour", "team", "channel", "agent", "tier"];
  const DURATIONS = new Set(["first_response_p50", "first_response_p90", "resolution_p50", "resolution_p90",
    "wait_p50", "wait_p90"]);
  const SHARES = new Set(["sla_attainment", "bot_containment", "csat_satisfied"]);
  const state = { permissions: [], report: null, agents: new Map(), query: null };
  const may = (permission) => state.permissions.includes(permission);

  const { el, testid, button } = window.consoleScreens;

  // the console's one transport (api.js): one error shape and text
  const getJson = (path) => window.consoleApi.get(path);

  // ---- values as people read them --------------------------------------------

  // the unit chosen by the value as shown: 59.7 s is "1 мин", not "60 с"; 119.97 min is "2 ч", not "120 мин"
  function duration(seconds) {
    const unit = (value, name, digits) => window.fmt.number(value, { style: "unit", unit: name, unitDisplay: "short",
      maximumFractionDigits: digits });
    if (Math.round(seconds) < 60) return unit(seconds, "second", 0);
    if (Math.round(seconds / 6) < 1200) return unit(seconds / 60, "minute", 1);
    return unit(seconds / 3600, "hour", 1);
  }

  function shown(column, value) {
    if (value === null || value === undefined) return "—";
    if (DURATIONS.has(column)) return duration(value);
    if (SHARES.has(column)) return window.fmt.number(value, { style: "percent", maximumFractionDigits: 1 });
    if (typeof value === "number") return window.fmt.number(value, { maximumFractionDigits: 2 });
    return String(value);
  }

  function groupName(group) {
    const by = state.report ? state.report.group_by : "day";
    if (group === "-") return tr("reports.none");
    if (by === "agent") return state.agents.get(group) || group;
    if (by === "team") return window.teamNames.label(group);
    if (by === "channel") return window.channelSwitch.label(group);
    // the server cuts days and hours in the zone the console sends (tz): the group is that zone's wall time,
    // a calendar day and an hour, never an instant to convert again
    if (by === "day") return window.fmt.calendarDay(group.slice(0, 10));
    if (by === "hour") return `${window.fmt.calendarDay(group.slice(0, 10))} ${group.slice(11, 16)}`;
    return group;
  }

  // ---- the range asked for ----------------------------------------------------

  const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

  function query(form) {
    // the days are the browser's: from the first one's local midnight to the one after the last
    const since = new Date(`${form.from.value}T00:00:00`);
    const last = new Date(`${form.to.value}T00:00:00`);
    const until = new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1);
    // the browser's own days: its midnights, and its zone for the server to cut days and hours in
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    return new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), group_by: form.group.value, tz });
  }

  // ---- the charts: bars per group, one colour per series, in SVG ----------------

  function barChart(title, id, rows, series, format) {
    const box = testid(el("figure", "report-chart"), id);
    box.append(el("figcaption", "", title));
    const values = rows.flatMap((r) => series.map((s) => r[s.key] || 0));
    const max = Math.max(1, ...values);
    const band = 28 * series.length + 12;
    const labelWidth = 120;
    const width = 520;
    const height = rows.length * band + 8;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", title);
    rows.forEach((row, i) => {
      const top = i * band + 4;
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", "0");
      label.setAttribute("y", String(top + band / 2));
      label.setAttribute("class", "report-label");
      const name = groupName(row.group);
      label.textContent = shortLabel(name);
      const whole = document.createElementNS(SVG, "title");
      whole.textContent = name;
      label.append(whole);
      svg.append(label);
      series.forEach((s, j) => {
        const value = row[s.key];
        const bar = document.createElementNS(SVG, "rect");
        const length = value ? Math.max(2, ((width - labelWidth - 90) * value) / max) : 0;
        bar.setAttribute("x", String(labelWidth));
        bar.setAttribute("y", String(top + j * 28));
        bar.setAttribute("width", String(length));
        bar.setAttribute("height", "22");
        bar.setAttribute("class", `report-bar series-${j}`);
        const tip = document.createElementNS(SVG, "title");
        tip.textContent = `${groupName(row.group)} · ${s.label}: ${format(value)}`;
        bar.append(tip);
        const text = document.createElementNS(SVG, "text");
        text.setAttribute("x", String(labelWidth + length + 6));
        text.setAttribute("y", String(top + j * 28 + 16));
        text.setAttribute("class", "report-value");
        text.textContent = value === null || value === undefined ? "—" : format(value);
        svg.append(bar, text);
      });
    });
    const legend = el("div", "report-legend");
    series.forEach((s, j) => {
      const key = el("span", `report-key series-${j}`);
      legend.append(key, el("span", "", s.label));
    });
    box.append(svg, legend);
    return box;
  }

  function charts(rows) {
    const count = (v) => window.fmt.number(v || 0);
    return [
      barChart(tr("reports.charts.volumes"), "chart-volumes", rows, [
        { key: "opened", label: tr("reports.columns.opened") },
        { key: "resolved", label: tr("reports.columns.resolved") }], count),
      barChart(tr("reports.charts.first_response"), "chart-first-response", rows, [
        { key: "first_response_p50", label: tr("reports.columns.first_response_p50") },
        { key: "first_response_p90", label: tr("reports.columns.first_response_p90") }], duration),
      barChart(tr("reports.charts.wait"), "chart-wait", rows, [
        { key: "wait_p50", label: tr("reports.columns.wait_p50") },
        { key: "wait_p90", label: tr("reports.columns.wait_p90") }], duration),
    ];
  }

  function table(report) {
    const wrap = el("div", "report-table-wrap");
    // a table wider than the screen scrolls sideways: focusable, so the keyboard's arrows scroll it too
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", tr("reports.title"));
    const node = testid(el("table", "report-table"), "report-table");
    const head = el("tr");
    for (const column of report.columns) {
      // the group's column is named as the CSV's («День», not the menu's «Дням»: "by days")
      head.append(el("th", "", column === "group" ? tr(`reports.group_column.${report.group_by}`) : tr(`reports.columns.${column}`)));
    }
    const body = el("tbody");
    for (const row of report.rows) {
      const line = el("tr");
      for (const column of report.columns) {
        line.append(el(column === "group" ? "th" : "td", "", column === "group" ? groupName(row.group) : shown(column, row[column])));
      }
      body.append(line);
    }
    const thead = el("thead");
    thead.append(head);
    node.append(thead, body);
    wrap.append(node);
    return wrap;
  }

  // a handoff's reason is a code (the bot's HandoffReason, "taken", "rules"): its words in the catalogue
  function reasonName(code) {
    if (code === "-") return tr("reports.none");
    const key = `reports.reasons.${code}`;
    return window.i18next.exists(key) ? tr(key) : code;
  }

  // an SVG label does not wrap: a long one is cut with an ellipsis, the whole of it in a <title>
  const LABEL_CHARS = 16;
  function shortLabel(text) {
    return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
  }

  function reasons(report) {
    const box = testid(el("section", "report-reasons"), "report-reasons");
    box.append(el("h3", "", tr("reports.handoff_reasons")));
    const entries = Object.entries(report.handoff_reasons);
    if (!entries.length) {
      box.append(el("p", "muted", tr("reports.no_handoffs")));
      return box;
    }
    const list = el("ul");
    for (const [reason, count] of entries) {
      list.append(el("li", "", tr("reports.reason_count", { reason: reasonName(reason), count })));
    }
    box.append(list);
    return box;
  }

  // ---- the screen -------------------------------------------------------------

  function controls() {
    const form = testid(el("form", "report-form"), "report-form");
    const today = new Date();
    const weekAgo = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
    const field = (key, input) => {
      const label = el("label", "report-field");
      label.append(el("span", "muted", tr(key)), input);
      return label;
    };
    const from = testid(el("input"), "report-from");
    from.type = "date";
    from.name = "from";
    from.value = isoDay(weekAgo);
    const to = testid(el("input"), "report-to");
    to.type = "date";
    to.name = "to";
    to.value = isoDay(today);
    const group = testid(el("select"), "report-group");
    group.name = "group";
    for (const value of GROUPS) {
      const option = el("option", "", tr(`reports.group.${value}`));
      option.value = value;
      group.append(option);
    }
    const show = testid(el("button", "btn primary", tr("reports.show")), "report-show");
    show.type = "submit";
    form.append(field("reports.from", from), field("reports.to", to), field("reports.group_by", group), show);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      load(form).catch(showError);
    });
    return form;
  }

  function csvLinks() {
    const box = el("div", "report-downloads");
    for (const table of ["figures", "handoff_reasons"]) {
      const link = testid(el("a", "btn", tr(`reports.csv.${table}`)), `report-csv-${table}`);
      // in the console's language: a spreadsheet's words, separators and decimal mark
      link.href = `/api/reports/figures.csv?${state.query}&table=${table}&lang=${window.i18n.lang}`;
      link.setAttribute("download", "");
      box.append(link);
    }
    return box;
  }

  function render() {
    const node = reportsScreen.node();
    const results = node.querySelector('[data-testid="report-results"]');
    const report = state.report;
    if (!report.rows.length) {
      results.replaceChildren(testid(el("p", "muted", tr("reports.empty")), "report-empty"));
      return;
    }
    results.replaceChildren(csvLinks(), el("div", "report-charts"), table(report), reasons(report));
    results.querySelector(".report-charts").append(...charts(report.rows));
  }

  function showError(err) {
    const box = document.querySelector('#reports-screen [data-testid="report-error"]');
    if (box) box.textContent = window.i18n.error(err);
  }

  async function load(form) {
    const box = document.querySelector('#reports-screen [data-testid="report-error"]');
    box.textContent = "";
    state.query = query(form).toString();
    const [report, agents] = await Promise.all([
      getJson(`/api/reports/figures?${state.query}`),
      getJson("/api/agents").catch(() => ({ agents: [] })),
    ]);
    state.agents = new Map(agents.agents.map((a) => [a.id, a.display_name]));
    state.report = report;
    render();
  }

  // the screen's content, drawn each time it opens
  async function fill(node) {
    const head = el("header", "agents-head");
    head.append(el("h2", "", tr("reports.title")), el("span", "spacer"),
      button(tr("reports.close"), "", "reports-close", reportsScreen.close));
    const error = testid(el("p", "form-error"), "report-error");
    error.setAttribute("role", "alert");
    const form = controls();
    node.replaceChildren(head, form, error, testid(el("div", "report-results"), "report-results"));
    await load(form);
  }

  async function allowed() {
    const data = await window.consoleApi.me();
    state.permissions = data.permissions || [];
    return may("supervise");
  }

  const reportsScreen = window.consoleScreens.define({
    name: "reports", title: "reports.title", openLabel: "reports.open", allowed, opened: fill, showError,
  });
})();
