// omnirouter console: the parts of a message row beyond its text (files,
// quotes of what the customer forwarded or answered, a long text's whole).
// Classic script before console.js, whose el() these use; every text reaches
// the page through textContent.
"use strict";

function attachmentsNode(msg) {
  const list = msg.attachments || [];
  if (!list.length) return null;
  const box = el("div", "attachments");
  list.forEach((a, index) => {
    if (a.file && window.storedFileNode) { // files.js: a file of our own storage
      box.append(window.storedFileNode(a, msg.id));
      return;
    }
    const kind = t(`attachments.${a.kind}`);
    const label = a.name || (a.mime_type ? `${kind} · ${a.mime_type}` : kind);
    // only web links open: a URL from a customer's platform is never run as script
    const web = typeof a.url === "string" && /^https?:\/\//i.test(a.url);
    // a file with no public link (Telegram's need the bot's token) is relayed by our API
    const relayed = !web && a.kind !== "location";
    const href = web ? a.url
      : relayed ? `/api/messages/${encodeURIComponent(msg.id)}/attachments/${index}` : null;
    const item = el(href ? "a" : "span", "attachment", label);
    if (href) {
      item.href = href;
      item.target = "_blank";
      item.rel = "noopener noreferrer";
    }
    item.dataset.testid = "attachment";
    box.append(item);
  });
  return box;
}

function quoteHeading(q) {
  const who = q.sender_name || (q.from_id !== null && q.from_id !== undefined ? `id ${q.from_id}` : t("quotes.someone"));
  const when = typeof q.date === "number" ? ` · ${fmt.dateTime(q.date * 1000)}` : "";
  return `${t(q.kind === "reply" ? "quotes.reply" : "quotes.forward", { who })}${when}`;
}

function testid(node, id) {
  node.dataset.testid = id;
  return node;
}

function quotesNode(list) {
  // what a customer forwarded or answered (extras.quoted): shown as quotes,
  // as text only, nested as the platform nested them (bounded by the connector)
  if (!Array.isArray(list) || !list.length) return null;
  const box = el("div", "quotes");
  for (const q of list) {
    if (!q || typeof q !== "object") continue;
    if (q.text === undefined && q.omitted) {
      box.append(el("div", "quote-more", t("quotes.more", { count: q.omitted })));
      continue;
    }
    const quote = testid(el("blockquote", `quote ${q.kind === "reply" ? "reply" : "forward"}`), "quote");
    quote.append(el("div", "quote-from", quoteHeading(q)));
    if (q.text) quote.append(testid(el("div", "quote-text", q.text), "quote-text"));
    // only web links: a quoted file has no relay of its own
    const links = (q.attachments || []).filter((a) => a && typeof a.url === "string" && /^https?:\/\//i.test(a.url));
    quote.append(...[attachmentsNode({ id: "", attachments: links }), quotesNode(q.quotes)].filter(Boolean));
    if (q.omitted) quote.append(el("div", "quote-more", t("quotes.more", { count: q.omitted })));
    box.append(quote);
  }
  return box;
}

function wholeTextNode(msg) {
  // a text over the limit is cut for display; the whole is kept (extras.full_text),
  // as is an unreadable mail's raw text (extras.raw)
  const extras = msg.extras || {};
  const whole = typeof extras.full_text === "string" ? extras.full_text
    : !msg.text && typeof extras.raw === "string" ? extras.raw : null;
  if (!whole || whole === msg.text) return null;
  const details = testid(el("details", "whole-text"), "whole-text");
  details.append(el("summary", "", t("quotes.whole")), el("pre", "", whole));
  return details;
}
