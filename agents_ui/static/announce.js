// omnirouter console: what a screen reader is told of the open conversation as it happens.
// The thread itself (#messages) is not a live region: opening a conversation draws its whole
// history, and a delivery receipt redraws a reply, so a live thread read out every message of
// the history at each switch and the agent's own reply again at each receipt. Here only a new
// message from the customer is said ("Anna: where is my order?"), in a log of its own that keeps
// the last few lines; switching conversations empties it.
"use strict";

(() => {
  const KEEP = 5; // lines kept in the log: more would only be read again by a reader that re-reads it
  let selected = null;

  function log() {
    let node = document.getElementById("messages-live");
    if (node) return node;
    node = document.createElement("div");
    node.id = "messages-live";
    node.className = "sr-only";
    node.dataset.testid = "messages-live";
    node.setAttribute("role", "log");
    node.setAttribute("aria-live", "polite");
    node.dataset.i18nAttr = "aria-label:conversation.live_aria";
    node.setAttribute("aria-label", window.t("conversation.live_aria"));
    document.getElementById("conversation").append(node);
    return node;
  }

  function say(text) {
    const node = log();
    const line = document.createElement("p");
    line.textContent = text; // customer text: never HTML
    node.append(line);
    while (node.childElementCount > KEEP) node.firstElementChild.remove();
  }

  document.addEventListener("conversation:selected", (event) => {
    selected = event.detail.id;
    log().replaceChildren();
  });

  document.addEventListener("console:event", (event) => {
    const { type, data } = event.detail || {};
    const msg = type === "message.created" && data && data.message;
    if (!msg || msg.conversation_id !== selected || msg.direction !== "in") return;
    const who = document.getElementById("conv-name").textContent;
    const text = window.i18n.described(msg.text) || window.t("conversation.live_files");
    say(window.t("conversation.live_line", { who, text }));
  });

  document.addEventListener("DOMContentLoaded", () => {
    const thread = document.getElementById("messages");
    if (thread) thread.removeAttribute("aria-live");
  });
})();
