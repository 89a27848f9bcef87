// omnirouter console: satisfaction ratings (router/csat). The selected
// conversation's rating beside its title, and the customer's ratings as a
// section of the customer panel; both follow the live `csat.rated` event.
// Every value is set with textContent: comments are customer input.
"use strict";

(() => {
  // the live event's type (router/events.py): in backquotes, as it is no catalogue key
  const RATED = `csat.rated`;
  let selected = null; // the conversation shown
  const byCustomer = new Map(); // customer id -> their surveys, newest first (as last read)

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  const get = (path) => window.consoleApi.get(path); // api.js

  // ★★★★☆ with its words for screen readers: "Rating: 4 of 5"
  function stars(rating) {
    const span = node("span", "csat-stars", "★".repeat(rating) + "☆".repeat(5 - rating));
    span.setAttribute("role", "img");
    span.setAttribute("aria-label", t("csat.rating_aria", { rating }));
    return span;
  }

  // what a survey says now: asked, rated (and commented)
  function summary(survey, withDate) {
    const box = node("div", "csat-summary");
    box.dataset.testid = "csat-summary";
    box.dataset.rating = survey.rating || "";
    if (survey.rating) {
      box.append(stars(survey.rating));
      box.append(node("span", "csat-score", t("csat.score", { rating: survey.rating })));
    } else {
      box.append(node("span", "muted", t("csat.asked", { time: fmt.time(survey.asked_at) })));
    }
    if (withDate) box.append(node("span", "muted csat-when", fmt.date(survey.asked_at)));
    if (survey.comment) {
      const quote = node("q", "csat-comment", survey.comment);
      quote.dataset.testid = "csat-comment";
      quote.title = survey.comment; // the header shows it cut to one line
      box.append(quote);
    }
    return box;
  }

  // -- the conversation's header ------------------------------------------------------
  function badge() {
    let found = document.getElementById("csat-badge");
    if (!found) {
      const meta = document.getElementById("conv-meta");
      if (!meta) return null;
      found = node("div", "csat-badge");
      found.id = "csat-badge";
      found.dataset.testid = "csat-badge";
      found.setAttribute("aria-live", "polite");
      meta.after(found);
    }
    return found;
  }

  function showBadge(survey) {
    const place = badge();
    if (!place) return;
    place.replaceChildren(...(survey ? [node("span", "csat-label", t("csat.title")), summary(survey, false)] : []));
    place.hidden = !survey;
  }

  async function refresh(conversationId) {
    try {
      const data = await get(`/api/conversations/${encodeURIComponent(conversationId)}/survey`);
      if (selected === conversationId) showBadge(data.survey);
    } catch (err) {
      // the conversation's own view says what failed; the badge stays empty
    }
  }

  document.addEventListener("conversation:selected", (event) => {
    selected = event.detail.id;
    byCustomer.clear(); // read afresh: a survey asked meanwhile sends no event of its own
    showBadge(null);
    refresh(selected);
  });

  // -- the customer panel ---------------------------------------------------------------
  const panel = () => document.getElementById("customer-panel");

  function section(customerId) {
    const surveys = byCustomer.get(customerId) || [];
    const box = node("section", "cp-section cp-csat");
    box.dataset.testid = "cp-csat";
    box.append(node("h3", "cp-title", t("csat.panel_title")));
    if (!surveys.length) {
      box.append(node("p", "muted", t("csat.none")));
      return box;
    }
    const rated = surveys.filter((s) => s.rating);
    if (rated.length) {
      const mean = rated.reduce((sum, s) => sum + s.rating, 0) / rated.length;
      box.append(node("p", "csat-mean", t("csat.mean", { mean: fmt.number(mean, { maximumFractionDigits: 1 }),
        count: rated.length })));
    }
    const list = node("ul", "csat-list");
    for (const survey of surveys.slice(0, 10)) {
      const item = node("li");
      item.append(summary(survey, true));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  // the panel is drawn afresh by customer.js on every change: ours is put back each time
  function place() {
    const p = panel();
    const customerId = p && p.dataset.customer;
    if (!customerId || p.hidden) return;
    const old = p.querySelector(".cp-csat");
    if (old && old.dataset.customer === customerId && old.dataset.version === String(version)) return;
    if (!byCustomer.has(customerId)) {
      load(customerId);
      return;
    }
    const fresh = section(customerId);
    fresh.dataset.customer = customerId;
    fresh.dataset.version = String(version);
    // beside the customer's conversations, which they rate; at the end when the panel has none
    const after = p.querySelector('[data-testid="cp-conversations"]');
    if (old) old.replaceWith(fresh);
    else if (after) after.after(fresh);
    else p.append(fresh);
  }

  let version = 0;
  const loading = new Set();
  async function load(customerId) {
    if (loading.has(customerId)) return;
    loading.add(customerId);
    try {
      const data = await get(`/api/customers/${encodeURIComponent(customerId)}/surveys`);
      byCustomer.set(customerId, data.surveys);
      version += 1;
    } catch (err) {
      byCustomer.set(customerId, []);
    } finally {
      loading.delete(customerId);
    }
    place();
  }

  new MutationObserver(() => place()).observe(document.body, { childList: true, subtree: true,
    attributes: true, attributeFilter: ["data-customer", "hidden"] });

  // -- live -----------------------------------------------------------------------------
  document.addEventListener("console:event", (event) => {
    const { type, data } = event.detail || {};
    // the question just went out (an automatic message of the survey's): the badge says "asked"
    const message = type === "message.created" && data && data.message;
    if (message && message.core && message.core.automatic === "csat" && message.conversation_id === selected) {
      refresh(selected);
      return;
    }
    if (type !== RATED || !data || !data.survey) return;
    const survey = data.survey;
    if (survey.conversation_id === selected) showBadge(survey);
    if (byCustomer.has(survey.customer_id)) {
      const list = byCustomer.get(survey.customer_id).filter((s) => s.id !== survey.id);
      byCustomer.set(survey.customer_id, [survey, ...list].sort((a, b) => (a.asked_at < b.asked_at ? 1 : -1)));
      version += 1;
      place();
    }
  });
})();
