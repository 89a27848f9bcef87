// omnirouter console: the customer panel beside the selected conversation —
// who they are on every channel (proven or only claimed, and where each link
// came from), what they are worth, their past conversations, and merge/unmerge.
// Every value is set with textContent: names and claims are customer input.
"use strict";

(() => {
  const panel = () => document.getElementById("customer-panel");
  let current = null; // the customer id shown

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  // api.js: the console's one way to the API, with one error text
  const call = (method, path, body) => window.consoleApi.call(method, path, body);

  function when(ts) {
    return ts ? fmt.dateTime(ts) : "";
  }

  function section(title, testid, items, empty) {
    const box = node("section", "cp-section");
    box.dataset.testid = testid;
    box.append(node("h3", "cp-title", title));
    if (!items.length) box.append(node("p", "muted", empty));
    box.append(...items);
    return box;
  }

  function attributes(customer) {
    const a = customer.attributes || {};
    const rows = [];
    const add = (label, value) => {
      const row = node("div", "cp-row");
      row.append(node("span", "muted", label), node("span", "cp-value", value));
      rows.push(row);
    };
    if (a.tier) add(t("customer.tier"), a.tier);
    if (a.lifetime_value !== undefined) add(t("customer.lifetime_value"), fmt.number(Number(a.lifetime_value)));
    if (Array.isArray(a.tags) && a.tags.length) add(t("customer.tags"), a.tags.join(", "));
    for (const [k, v] of Object.entries(a)) {
      if (!["tier", "lifetime_value", "tags"].includes(k)) add(k, typeof v === "object" ? JSON.stringify(v) : v);
    }
    return rows;
  }

  function identity(i) {
    const row = node("div", "cp-item");
    row.dataset.testid = "identity";
    const badge = node("span", i.verified ? "cp-badge ok" : "cp-badge warn", t(i.verified ? "customer.verified" : "customer.unverified"));
    row.append(node("span", "cp-value", identityText(i.ref.kind, i.ref.value)), badge);
    const why = `${i.source}${i.link_reason ? ` — ${i.link_reason}` : ""} · ${when(i.created_at)}`;
    row.append(node("div", "muted small", why));
    return row;
  }

  function claim(c, customerId, matches) {
    const row = node("div", "cp-item");
    row.dataset.testid = "claim";
    const badge = node("span", c.verified_at ? "cp-badge ok" : "cp-badge warn", t(c.verified_at ? "customer.verified" : "customer.claimed"));
    row.append(node("span", "cp-value", `${c.kind}: ${c.value}`), badge);
    row.append(node("div", "muted small", `${c.source} · ${when(c.created_at)}${c.raw ? ` · ${t("customer.typed", { raw: c.raw })}` : ""}`));
    const hints = window.ClaimMatches.claimantHints(kit, c, matches); // whose key it is, with its own actions
    row.append(...hints);
    if (!c.verified_at && !hints.length) {
      const send = node("button", "btn small", t("customer.send_code"));
      send.type = "button";
      send.dataset.testid = "send-code";
      send.addEventListener("click", () => act(() =>
        call("POST", `/api/customers/${encodeURIComponent(customerId)}/claims/${encodeURIComponent(c.id)}/verify`),
      t("customer.code_sent")));
      row.append(send);
    }
    return row;
  }

  // the customer's last contact on each channel: where, when, and what it was about
  // (the topic the bot answered, else the first words they wrote)
  function label(texts, fallback) {
    return (texts && (texts[i18n.lang] || Object.values(texts)[0])) || fallback;
  }

  // a site-chat visitor's token is no name for people: the channel's own name instead
  function identityText(kind, value) {
    return kind === "webchat" ? t("customer.webchat_visitor") : `${window.channelSwitch.label(kind)}: ${value}`;
  }
  window.customerIdentityText = identityText; // the search's customer results name identities the same way

  function lastContact(c) {
    const row = node("div", "cp-item");
    row.dataset.testid = "last-contact";
    row.dataset.channel = c.channel;
    row.append(node("span", "cp-value", label(c.label, c.channel)), node("span", "muted small", when(c.at)));
    const what = c.topic
      ? node("div", "small", t("customer.contact_about", { topic: label(c.topic, c.intent) }))
      : node("div", "muted small cp-ellipsis", t("customer.contact_wrote", { preview: window.i18n.described(c.preview) }));
    what.dataset.testid = "last-contact-about";
    row.append(what);
    return row;
  }

  function conversation(c) {
    const row = node("div", "cp-item");
    row.dataset.testid = "past-conversation";
    row.append(node("span", "cp-value", `${window.channelSwitch.label(c.channel)} · ${t(`status.${c.status}`)}`),
      node("span", "muted small", when(c.created_at)));
    if (c.last_message_text) row.append(node("div", "muted small cp-ellipsis", window.i18n.described(c.last_message_text)));
    return row;
  }

  function merge(m, customerId) {
    const row = node("div", "cp-item");
    row.dataset.testid = "merge";
    const other = m.survivor_id === customerId ? m.merged_id : m.survivor_id;
    row.append(node("span", "cp-value", t(m.undone_at ? "customer.merge_undone" : "customer.merged_with", { other })));
    const by = m.actor ? ` ${t("customer.merge_by", { actor: m.actor })}` : "";
    row.append(node("div", "muted small", `${m.source}${by}: ${m.reason} · ${when(m.created_at)}`));
    if (!m.undone_at) {
      const undo = node("button", "btn small", t("customer.unmerge"));
      undo.type = "button";
      undo.dataset.testid = "unmerge";
      undo.addEventListener("click", () => {
        const reason = window.prompt(t("customer.unmerge_why"));
        if (reason) act(() => call("POST", `/api/merges/${encodeURIComponent(m.id)}/undo`, { reason }), t("customer.unmerged"));
      });
      row.append(undo);
    }
    return row;
  }

  function mergeForm(customerId) {
    const form = node("form", "cp-merge");
    form.dataset.testid = "merge-form";
    const other = node("input");
    other.placeholder = t("customer.merge_with_id_placeholder");
    other.setAttribute("aria-label", t("customer.merge_with_id"));
    other.dataset.testid = "merge-other";
    const reason = node("input");
    reason.placeholder = t("customer.merge_reason_placeholder");
    reason.setAttribute("aria-label", t("customer.merge_reason"));
    reason.dataset.testid = "merge-reason";
    const go = node("button", "btn small", t("customer.merge"));
    go.type = "submit";
    form.append(other, reason, go);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => call("POST", `/api/customers/${encodeURIComponent(customerId)}/merge`,
        { other_id: other.value.trim(), reason: reason.value.trim() }), t("customer.merged"));
    });
    return form;
  }

  async function act(action, done) {
    const note = document.getElementById("cp-note");
    try {
      await action();
      await show(current);
      document.getElementById("cp-note").textContent = done;
    } catch (err) {
      note.textContent = i18n.error(err);
    }
  }

  // what claim_matches.js builds its part of the panel with
  const kit = { node, call, act, when };

  async function show(customerId) {
    current = customerId;
    const d = await call("GET", `/api/customers/${encodeURIComponent(customerId)}`);
    if (current !== customerId) return;
    const c = d.customer;
    const head = node("header", "cp-head");
    head.append(node("h2", "cp-name", window.customerLabel(c.display_name, c.id)), node("div", "muted small", c.id));
    if (c.merged_into) head.append(node("div", "cp-badge warn", t("customer.merged_into", { other: c.merged_into })));
    const note = node("p", "form-error");
    note.id = "cp-note";
    note.setAttribute("role", "status");
    panel().replaceChildren(
      head, note,
      section(t("customer.last_contact"), "cp-last-contacts", (d.last_contacts || []).map(lastContact), t("customer.none_yet")),
      section(t("customer.value"), "cp-attributes", attributes(c), t("customer.no_attributes")),
      section(t("customer.channels"), "cp-identities", d.identities.map(identity), t("customer.none")),
      ...window.ClaimMatches.holderSection(kit, d, c.id),
      section(t("customer.claims"), "cp-claims", d.claims.map((x) => claim(x, c.id, d.matches)), t("customer.no_claims")),
      section(t("customer.conversations"), "cp-conversations", d.conversations.map(conversation), t("customer.none")),
      section(t("customer.merges"), "cp-merges", d.merges.map((m) => merge(m, c.id)), t("customer.never_merged")),
      mergeForm(c.id),
    );
    panel().hidden = false;
    panel().dataset.customer = c.id;
    channels(d.channels);
  }

  // where the agent's reply goes: by default the channel the customer used last
  function channels(list) {
    const select = document.getElementById("reply-channel");
    const keep = select.value;
    const where = (ch) => window.channelSwitch.where(ch);
    const options = [node("option", null, list.length
      ? t("composer.reply_by_last_used", { where: where(list[0]) }) : t("composer.reply_by_last"))];
    options[0].value = "";
    for (const ch of list.slice(1)) {
      const opt = node("option", null, t("composer.reply_by", { where: where(ch) }));
      opt.value = ch;
      options.push(opt);
    }
    select.replaceChildren(...options);
    select.value = list.slice(1).includes(keep) ? keep : "";
  }

  // a change to a customer shown here, made from any console: show it afresh
  function concerns(event, customerId) {
    const data = event.data || {};
    if (data.merge) return [data.merge.survivor_id, data.merge.merged_id].includes(customerId);
    // a conversation of theirs resolved, reopened or taken: the panel lists its status
    if (data.conversation && data.conversation.customer_id === customerId && !data.message) return true;
    return Array.isArray(data.customers) && data.customers.includes(customerId);
  }

  document.addEventListener("console:event", (event) => {
    if (current && !panel().hidden && concerns(event.detail, current)) show(current).catch(() => {});
  });

  document.addEventListener("conversation:selected", async (event) => {
    panel().hidden = true;
    channels([]);
    try {
      const detail = await call("GET", `/api/conversations/${encodeURIComponent(event.detail.id)}`);
      await show(detail.conversation.customer_id);
    } catch (err) {
      panel().replaceChildren(node("p", "form-error", i18n.error(err)));
      panel().hidden = false;
    }
  });
})();
