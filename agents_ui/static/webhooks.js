// omnirouter console: outbound webhooks (admins). A screen over the console:
// the subscriptions (add, pause, a new secret, delete), each secret shown once,
// the recent deliveries with the dead letters and their reason, and "send again".
// Every text through t() and textContent; the server checks every action.
"use strict";

(() => {
  const tr = (key, vars) => window.t(key, vars);
  const enc = encodeURIComponent;

  const { el, testid, button, labelled } = window.consoleScreens;

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  // what is shown: the subscriptions, the deliveries' filter, a secret to show once, the add form
  const state = { list: null, deliveries: [], filter: "dead", secret: null, adding: false };

  function showError(err) {
    const box = document.querySelector('#webhooks-screen [data-testid="webhooks-error"]');
    if (box) box.textContent = window.i18n.error(err);
  }

  const webhooksScreen = window.consoleScreens.define({
    name: "webhooks", title: "webhooks.title", openLabel: "webhooks.open",
    allowed: () => window.consoleApi.may("manage_integrations"),
    opened: () => reload(),
    closed: () => {
      state.secret = null;
      state.adding = false;
    },
    showError,
  });
  const isOpen = webhooksScreen.isOpen;

  async function reload() {
    const query = state.filter === "all" ? "" : `?status=${enc(state.filter)}`;
    const [list, deliveries] = await Promise.all([
      call("GET", "/api/webhooks"), call("GET", `/api/webhooks/deliveries${query}`),
    ]);
    state.list = list;
    state.deliveries = deliveries.deliveries;
    render();
  }

  function render() {
    const node = webhooksScreen.node();
    const head = el("header", "webhooks-head");
    head.append(
      el("h2", "", tr("webhooks.title")),
      el("span", "spacer"),
      button(tr("webhooks.add"), "primary", "webhooks-add", () => { state.adding = true; render(); }),
      button(tr("webhooks.close"), "", "webhooks-close", webhooksScreen.close),
    );
    const intro = el("p", "muted webhooks-intro", tr("webhooks.intro", { header: state.list.signature_header }));
    const error = testid(el("p", "form-error"), "webhooks-error");
    error.setAttribute("role", "alert");
    const parts = [head, intro, error];
    if (state.secret) parts.push(secretNotice(state.secret));
    if (state.adding) parts.push(addForm());
    const subs = testid(el("ul", "webhooks-list"), "webhooks-list");
    subs.append(...state.list.subscriptions.map(subscriptionCard));
    if (!state.list.subscriptions.length) subs.append(el("li", "muted", tr("webhooks.none")));
    parts.push(subs, deliveriesSection());
    node.replaceChildren(...parts);
  }

  // the one place a secret is shown: until the admin closes it
  function secretNotice({ secret, url }) {
    const box = testid(el("div", "webhooks-secret"), "webhook-secret-once");
    box.setAttribute("role", "status");
    box.append(el("p", "", tr("webhooks.secret_once", { url })),
      testid(el("code", "webhooks-secret-value", secret), "webhook-secret"),
      button(tr("webhooks.done"), "", "webhook-secret-done", () => { state.secret = null; render(); }));
    return box;
  }

  function addForm() {
    const form = testid(el("form", "webhooks-form"), "webhook-form");
    form.append(el("h3", "", tr("webhooks.add_title")));
    const url = el("input");
    url.name = "url";
    url.type = "url";
    url.required = true;
    url.placeholder = "https://crm.example.com/omnirouter";
    const description = el("input");
    description.name = "description";
    description.maxLength = 200;
    form.append(labelled(tr("webhooks.url"), url), labelled(tr("webhooks.description"), description));
    const events = el("fieldset", "webhooks-events");
    events.append(el("legend", "", tr("webhooks.events")));
    for (const type of state.list.event_types) {
      const label = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.name = "event";
      box.value = type;
      label.append(box, el("span", "", tr(`webhooks.event_types.${type.replace(".", "_")}`)), el("code", "muted", type));
      events.append(label);
    }
    const privateLabel = el("label", "check webhooks-private");
    const allow = el("input");
    allow.type = "checkbox";
    allow.name = "allow_private";
    privateLabel.append(allow, el("span", "", tr("webhooks.allow_private")));
    const actions = el("div", "webhooks-actions");
    const save = testid(el("button", "btn primary", tr("webhooks.save")), "webhook-save");
    save.type = "submit";
    actions.append(save, button(tr("webhooks.cancel"), "ghost", "webhook-cancel", () => { state.adding = false; render(); }));
    form.append(events, privateLabel, el("p", "muted small", tr("webhooks.private_hint")), actions);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = [...form.querySelectorAll('input[name="event"]:checked')].map((b) => b.value);
      if (!chosen.length) {
        showError({ message: tr("webhooks.pick_events") });
        return;
      }
      save.disabled = true;
      let created;
      try {
        created = await call("POST", "/api/webhooks", {
          url: url.value.trim(), description: description.value.trim(), events: chosen, allow_private: allow.checked,
        });
      } catch (err) {
        save.disabled = false;
        showError(err);
        return;
      }
      state.adding = false;
      state.secret = { secret: created.secret, url: created.subscription.url };
      await refresh();
    });
    return form;
  }

  function subscriptionCard(s) {
    const li = testid(el("li", `webhook-card ${s.active ? "" : "inactive"}`), "webhook-row");
    li.dataset.id = s.id;
    const title = el("div", "webhook-title");
    title.append(testid(el("strong", "webhook-url", s.url), "webhook-url"),
      el("span", `badge ${s.active ? "on" : "off"}`, tr(s.active ? "webhooks.active" : "webhooks.paused")));
    if (s.allow_private) title.append(el("span", "badge warn", tr("webhooks.private_allowed")));
    const chips = el("div", "agent-chips");
    chips.append(...s.events.map((type) => el("span", "chip", tr(`webhooks.event_types.${type.replace(".", "_")}`))));
    const meta = el("div", "muted small", s.description || "");
    const actions = el("div", "webhooks-actions");
    const toggle = button(tr(s.active ? "webhooks.pause" : "webhooks.resume"), "", "webhook-toggle",
      () => act("PATCH", `/api/webhooks/${enc(s.id)}`, { active: !s.active }));
    if (s.active) toggle.title = tr("webhooks.pause_hint");  // what pausing does to what is already queued
    actions.append(
      toggle,
      button(tr("webhooks.rotate"), "", "webhook-rotate", () => rotate(s)),
      button(tr("webhooks.delete"), "danger", "webhook-delete", () => remove(s)),
    );
    li.append(title, chips, meta, actions);
    return li;
  }

  async function act(method, path, body) {
    let data;
    try {
      data = await call(method, path, body);
    } catch (err) {
      showError(err);
      return null;
    }
    await refresh();
    return data;
  }

  // after a change that succeeded: the lists again; if they cannot be read now, what is known
  // (a secret shown once above all) is still shown, with the error
  async function refresh() {
    try {
      await reload();
    } catch (err) {
      render();
      showError(err);
    }
  }

  async function rotate(s) {
    if (!window.confirm(tr("webhooks.confirm_rotate", { url: s.url }))) return;
    const done = await act("POST", `/api/webhooks/${enc(s.id)}/secret`);
    if (done) {
      state.secret = { secret: done.secret, url: s.url };
      render();
    }
  }

  async function remove(s) {
    if (!window.confirm(tr("webhooks.confirm_delete", { url: s.url }))) return;
    await act("DELETE", `/api/webhooks/${enc(s.id)}`);
  }

  function deliveriesSection() {
    const section = testid(el("section", "webhooks-deliveries"), "webhook-deliveries");
    const head = el("div", "webhooks-head");
    const filter = testid(el("select"), "webhook-filter");
    filter.setAttribute("aria-label", tr("webhooks.filter"));
    for (const value of ["dead", "pending", "sent", "all"]) {
      const option = el("option", "", tr(`webhooks.filters.${value}`));
      option.value = value;
      filter.append(option);
    }
    filter.value = state.filter;
    filter.addEventListener("change", () => {
      state.filter = filter.value;
      reload().catch(showError);
    });
    head.append(el("h3", "", tr("webhooks.deliveries")), el("span", "spacer"), filter);
    const urls = new Map(state.list.subscriptions.map((s) => [s.id, s.url]));
    const list = el("ul", "webhooks-delivery-list");
    list.append(...state.deliveries.map((d) => deliveryRow(d, urls)));
    if (!state.deliveries.length) list.append(el("li", "muted", tr(`webhooks.no_deliveries.${state.filter}`)));
    section.append(head, list);
    return section;
  }

  function deliveryRow(d, urls) {
    const li = testid(el("li", `webhook-delivery ${d.status}`), "webhook-delivery");
    li.dataset.status = d.status;
    const top = el("div", "webhook-delivery-top");
    const when = el("time", "muted", window.fmt.relative(d.finished_at || d.created_at));
    when.dateTime = d.finished_at || d.created_at;
    when.title = window.fmt.dateTime(d.finished_at || d.created_at);
    top.append(el("span", `badge ${d.status}`, tr(`webhooks.status.${d.status}`)),
      el("strong", "", tr(`webhooks.event_types.${d.event_type.replace(".", "_")}`)),
      el("span", "muted", tr("webhooks.attempts", { count: d.attempts })), when);
    const to = el("div", "muted small webhook-target", urls.get(d.subscription_id) || d.subscription_id);
    li.append(top, to);
    if (d.last_error) {
      const reason = testid(el("p", "webhook-reason", reasonText(d)), "webhook-reason");
      reason.title = d.last_error;  // the raw detail, in English, stays at hand
      li.append(reason);
    }
    if (d.status !== "pending") {
      li.append(button(tr("webhooks.redeliver"), "", "webhook-redeliver",
        () => act("POST", `/api/webhooks/deliveries/${enc(d.id)}/redeliver`)));
    }
    return li;
  }

  // the reason in the admin's language from its code and values; the English detail when the
  // catalogue has no text for the code (a newer server, an older row)
  function reasonText(d) {
    const r = d.last_reason;
    const key = r && `webhooks.reasons.${r.code}`;
    if (!key || !window.i18next.exists(key)) return d.last_error;
    const own = tr(key, r.values);
    return r.values.gave_up ? tr("webhooks.reasons.gave_up", { count: Number(r.values.attempts), reason: own }) : own;
  }

  // ---- wiring -------------------------------------------------------------

  // deliveries move on by themselves: the list follows, at most once a second, never under the form
  let timer = null;
  document.addEventListener("console:event", (event) => {
    const type = event.detail && event.detail.type;
    if (!isOpen() || state.adding || timer !== null) return;
    // a change of subscriptions (webhooks.*), and what queues deliveries: messages, conversations
    if (type && (type.startsWith("webhooks") || type.startsWith("conversation") || type === "message.created")) {
      timer = setTimeout(() => { timer = null; if (isOpen() && !state.adding) reload().catch(() => {}); }, 1000);
    }
  });
})();
