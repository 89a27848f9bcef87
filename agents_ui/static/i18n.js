// omnirouter console: its language. Every word the console writes comes from
// a catalogue (agents_ui/i18n/<lang>.json, i18next's JSON format) through t();
// dates, times and numbers go through fmt, which formats them with Intl in the
// console's language, never the browser's locale (a Russian browser showing an
// English console would otherwise mix the two). A number inside a catalogue's
// text is marked there ({{count, number}}): i18next writes it with Intl too
// («10 000», «19,5»; "10,000"), where String() wrote "10000" and "19.5".
// The language is the agent's own setting, else the browser's first language
// we speak, else Russian. Loaded before every other script of the console.
"use strict";

window.i18n = (() => {
  const LANGUAGES = ["ru", "en"];
  const DEFAULT = "ru";
  let lang = DEFAULT;

  function pick(candidates) {
    for (const c of candidates) {
      const code = String(c || "").toLowerCase().slice(0, 2);
      if (LANGUAGES.includes(code)) return code;
    }
    return DEFAULT;
  }

  function browserLanguage() {
    return pick(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  }

  async function catalogue(code) {
    const resp = await fetch(`/console/i18n/${code}.json`, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`catalogue ${code}: HTTP ${resp.status}`);
    return resp.json();
  }

  // data-i18n names the key of an element's text; data-i18n-attr, pairs of an
  // attribute and a key ("placeholder:composer.placeholder"), separated by ";"
  function translate(root) {
    root.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    root.querySelectorAll("[data-i18n-attr]").forEach((node) => {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) node.setAttribute(attr, t(key));
      }
    });
  }

  async function use(code) {
    const chosen = pick([code]);
    const resources = { [chosen]: { translation: await catalogue(chosen) } };
    // escapeValue off: every text reaches the page through textContent, never as HTML
    await window.i18next.init({ lng: chosen, resources, fallbackLng: false, interpolation: { escapeValue: false },
      returnNull: false });
    lang = chosen;
    document.documentElement.lang = chosen;
    translate(document);
    return chosen;
  }

  function t(key, vars) {
    return window.i18next.t(key, vars);
  }

  // a field the API names by its path ("display_name", "texts.ru", "files.0") as the form calls it
  // (fields.<name>: "Имя"); what follows the named part stays, in brackets ("Текст (ru)"); a field
  // the catalogue has no name for (or one already in words, canned.js's) stays as it is
  function fieldLabel(path) {
    const parts = String(path).split(".");
    for (let i = parts.length - 1; i >= 0; i -= 1) {
      const key = `fields.${parts[i]}`;
      if (/^\d+$/.test(parts[i]) || !window.i18next.exists(key)) continue;
      const rest = parts.slice(i + 1).filter((p) => !/^\d+$/.test(p));
      return rest.length ? `${t(key)} (${rest.join(".")})` : t(key);
    }
    return String(path);
  }

  // an API error in the console's language: its code's text when the catalogue
  // has one (with the error's details as variables), else the server's message
  function error(err) {
    const given = (err && err.details) || {};
    // the API names a field for programs (display_name): a person reads the form's name for it
    const named = typeof given.field === "string" ? { ...given, field: fieldLabel(given.field) } : given;
    // a refused field: the kind of problem in the console's language (details: field, problem, limits)
    const problem = err && err.code === "invalid" && err.details ? `invalid.${err.details.problem}` : null;
    if (problem) {
      // a limit is the count its words agree with: «не короче 1 символа», «5 символов» (a number: the
      // API sends its limits as text, "1", and a count in text picks no plural form)
      const limit = named.min_length ?? named.max_length;
      const vars = limit === undefined ? named : { ...named, count: Number(limit) };
      if (window.i18next.exists(problem, vars)) return t(problem, vars);
    }
    const details = { ...named };
    // a channel by the name agents know it by ("WhatsApp"), where the console has its names, and as a sentence
    // says where («в чате на сайте», "in the site chat"): «не писал в {{channel}}» read «в чат на сайте»
    if (details.channel && window.channelSwitch) {
      details.where = window.channelSwitch.where(details.channel);
      details.channel = window.channelSwitch.label(details.channel);
    }
    // a channel kind (an agent's capacity is per kind) by the roster's words for it ("chats")
    const kind = details.kind ? `agents_admin.kinds.${details.kind}` : null;
    if (kind && window.i18next.exists(kind)) details.kind = t(kind);
    // a code's reason ("conflict" because the conversation is resolved): its own words first
    const reason = err && err.code && details.reason ? `errors.${err.code}_${details.reason}` : null;
    if (reason && window.i18next.exists(reason)) return t(reason, details);
    const key = err && err.code ? `errors.${err.code}` : null;
    if (key && window.i18next.exists(key)) return t(key, details);
    return (err && err.message) || t("errors.unknown");
  }

  const cache = new Map();
  function formatter(kind, options) {
    const id = `${lang}|${kind}|${JSON.stringify(options)}`;
    if (!cache.has(id)) {
      const make = { date: Intl.DateTimeFormat, number: Intl.NumberFormat, relative: Intl.RelativeTimeFormat }[kind];
      cache.set(id, new make(lang, options));
    }
    return cache.get(id);
  }

  const date = (ts, options) => formatter("date", options).format(new Date(ts));
  const sameDay = (a, b) => a.toDateString() === b.toDateString();
  // a day of another year says its year («5 дек. 2025 г.»): "5 Dec" alone reads as this year's
  const yearIfOther = (year) => (year === new Date().getFullYear() ? {} : { year: "numeric" });
  // the calendar's day before today (not 24 hours ago: a day of a clock change has 23 or 25 hours)
  const dayBefore = (when) => new Date(when.getFullYear(), when.getMonth(), when.getDate() - 1);

  const fmt = {
    // 14:05, 2:05 PM: the language's own short time ("02:05 PM" with a two-digit hour is no English)
    time: (ts) => date(ts, { timeStyle: "short" }),
    // 5 декабря 2026 г., 14:05
    dateTime: (ts) => date(ts, { dateStyle: "medium", timeStyle: "short" }),
    // 5 дек. (this year), 5 дек. 2025 г.
    date: (ts) => date(ts, { day: "numeric", month: "short", ...yearIfOther(new Date(ts).getFullYear()) }),
    // a calendar day named by the server ("2026-12-05", already cut in some zone): 5 дек. in any browser's zone
    // (read as noon UTC, as it was, it became the 6th east of UTC+12: New Zealand in summer, Kiribati)
    calendarDay: (isoDay) => date(`${isoDay}T00:00:00Z`, { day: "numeric", month: "short", timeZone: "UTC",
      ...yearIfOther(Number(String(isoDay).slice(0, 4))) }),
    // "Сегодня", "Вчера", "суббота, 5 декабря", or "пятница, 5 декабря 2025 г."
    day: (ts) => {
      const when = new Date(ts);
      const now = new Date();
      if (sameDay(when, now)) return t("time.today");
      if (sameDay(when, dayBefore(now))) return t("time.yesterday");
      return date(ts, { weekday: "long", day: "numeric", month: "long", ...yearIfOther(when.getFullYear()) });
    },
    // "сейчас", "5 мин", "3 ч", "сб", "5 дек."
    relative: (ts) => {
      const seconds = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
      if (seconds < 45) return t("time.now");
      // how long ago as a short duration ("5 мин", "3 h"): Intl's narrow relative style wrote "-5 мин" in Russian
      const ago = (n, unit) => formatter("number", { style: "unit", unit, unitDisplay: "short" }).format(n);
      if (seconds < 3600) return ago(Math.max(1, Math.round(seconds / 60)), "minute");
      if (seconds < 86400) return ago(Math.floor(seconds / 3600), "hour");
      if (seconds < 7 * 86400) return date(ts, { weekday: "short" });
      return fmt.date(ts);
    },
    number: (n, options) => formatter("number", options || {}).format(n),
    // how long, to the second under an hour: "45 с", "12 мин 5 с", "2 ч 10 мин"; "45s", "12m 5s", "2h 10m"
    duration: (seconds) => {
      const s = Math.max(0, Math.floor(seconds));
      const unit = (n, name) => formatter("number", { style: "unit", unit: name, unitDisplay: "narrow" }).format(n);
      if (s < 60) return unit(s, "second");
      if (s < 3600) return `${unit(Math.floor(s / 60), "minute")} ${unit(s % 60, "second")}`;
      return `${unit(Math.floor(s / 3600), "hour")} ${unit(Math.floor((s % 3600) / 60), "minute")}`;
    },
  };

  // the words connectors write for a message without any ("[photo]", "[voice message 0:12]",
  // "[3 forwarded messages]", "[unreadable mail] see the raw mail below"): stored in English,
  // shown in the console's language; what follows the label (a file's name, a poll's question)
  // stays as it came. Anything else, a customer's own "[photo]" included, is shown as it is
  const DESCRIBED = new RegExp("^\\[(voice message|video message|forwarded message|wall post|unreadable mail|"
    + "empty mail|photo|image|document|sticker|video|location|place|contact|audio|poll|story|reply|message|"
    + "attachments|attachment|link|other|unknown|animation|product|graffiti)([\\]: ][^\\n]*)$");
  const FORWARDED = /^\[(\d+) forwarded messages\]$/;
  const RAW_MAIL = "] see the raw mail below";
  function described(text) {
    const value = String(text || "");
    const many = FORWARDED.exec(value);
    if (many) return `[${t("described.forwarded_many", { count: Number(many[1]) })}]`;
    const found = DESCRIBED.exec(value);
    if (!found) return value;
    let rest = found[2];
    if (rest === RAW_MAIL) rest = `] ${t("described.see_raw_mail")}`;
    return `[${t(`described.${found[1].replace(/ /g, "_")}`)}${rest}`;
  }

  // why a message was not delivered, as the outbox writes it: its own framing in the console's
  // language ("gave up after 8 attempts: …", "… (after 2 part(s) of it had been delivered)"), and
  // the cause a connector gave ("[blocked] telegram: Forbidden: bot was blocked by the user") as a
  // sentence of the catalogue instead of the platform's words and codes (those are the node's title,
  // deliveryDetail); a reason without a known cause stays as the platform said it
  const GAVE_UP = /^gave up after (\d+) attempts: ([\s\S]*)$/;
  const PARTS = /^([\s\S]*) \(after (\d+) part\(s\) of it had been delivered\)$/;
  const CAUSE = /^\[([a-z_]+)\] ([\s\S]*)$/;
  function causeSaid(text) {
    const cause = CAUSE.exec(text);
    return cause && i18next.exists(`delivery.cause.${cause[1]}`) ? t(`delivery.cause.${cause[1]}`) : text;
  }
  function deliveryReason(text) {
    let reason = String(text || "");
    const parts = PARTS.exec(reason);
    if (parts) reason = parts[1];
    const gaveUp = GAVE_UP.exec(reason);
    if (gaveUp) reason = t("delivery.gave_up", { count: Number(gaveUp[1]), reason: causeSaid(gaveUp[2]) });
    else reason = causeSaid(reason);
    return parts ? t("delivery.after_parts", { count: Number(parts[2]), reason }) : reason;
  }
  // the platform's own words of a stored reason, without the cause's mark: for the one who digs
  function deliveryDetail(text) {
    return String(text || "").replace(/\[[a-z_]+\] /, "");
  }

  return { pick, browserLanguage, use, t, error, described, deliveryReason, deliveryDetail, fmt, translate, get lang() { return lang; },
    LANGUAGES };
})();

window.t = window.i18n.t;
// a customer as people call them: the name they gave, else "Visitor · 3f2a",
// the end of their id, so one unnamed visitor is told from another the same way everywhere
window.customerLabel = (name, customerId) => {
  if (name && String(name).trim()) return String(name);
  const tag = String(customerId || "").replace(/^[a-z]+_/, "").slice(-4);
  return tag ? t("customer.visitor", { tag }) : t("customer.unnamed");
};
window.fmt = window.i18n.fmt;
