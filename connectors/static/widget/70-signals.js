// ---- live signals (connectors/webchat_signals.py)
//
// The visitor typing: {"type": "typing"} to the server at most every
// TYPING_EVERY_MS while they type (the server passes on at most one every 2 s).
// An agent typing: {"type": "typing", "author": "agent"}, shown under the
// thread until their message arrives or TYPING_SHOWN_MS pass without another.
// Seen: {"type": "seen", "id": ...} (and the welcome's "seen") names the
// visitor's last message once an agent has read it: "Seen" shows under it,
// and goes when the visitor writes again. Nothing of it is stored here.

var TYPING_EVERY_MS = 2500;
var TYPING_SHOWN_MS = 6000;
var signals = { lastTyped: 0, typingTimer: null, seenId: null, typingEl: null, seenEl: null };

hooks.ui.push(function (ui) {
  var typing = el("div", "omr-typing", { "data-omr": "typing", "aria-live": "polite", hidden: "" });
  typing.textContent = say("signals_typing");
  ui.panel.insertBefore(typing, ui.note);
  signals.typingEl = typing;
  signals.seenEl = el("div", "omr-seen", { "data-omr": "seen" });
  signals.seenEl.textContent = say("signals_seen");
  // a message sent: what they type next is a new message, told at once
  ui.form.addEventListener("submit", function () { signals.lastTyped = 0; });
  ui.input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      signals.lastTyped = 0;
    }
  });
  ui.input.addEventListener("input", function () {
    var now = Date.now();
    if (ui.input.value.trim() && now - signals.lastTyped >= TYPING_EVERY_MS && sendFrame({ type: "typing" })) {
      signals.lastTyped = now;
    }
  });
  // whatever changes the thread (a message, one being sent, a whole new history) may move "Seen"
  new MutationObserver(showSeen).observe(ui.messages, { childList: true });
});

hooks.frame.typing = function (frame) {
  if (frame.author !== "agent" || !signals.typingEl) {
    return;
  }
  signals.typingEl.hidden = false;
  clearTimeout(signals.typingTimer);
  signals.typingTimer = setTimeout(hideAgentTyping, TYPING_SHOWN_MS);
};

function hideAgentTyping() {
  clearTimeout(signals.typingTimer);
  if (signals.typingEl) {
    signals.typingEl.hidden = true;
  }
}

hooks.message.push(function (node, frame) {
  if (frame.author !== "customer") {
    hideAgentTyping(); // their message is here: they have stopped typing
  }
});

hooks.frame.seen = function (frame) {
  if (typeof frame.id === "string") {
    signals.seenId = frame.id;
    showSeen();
  }
};

hooks.welcome.push(function (frame) {
  signals.seenId = typeof frame.seen === "string" ? frame.seen : null;
});

// "Seen" right after the visitor's last message when that is the one an agent read; nowhere otherwise
function showSeen() {
  if (!ui || !signals.seenEl) {
    return;
  }
  var mine = ui.messages.querySelectorAll("[data-omr=message][data-author=customer]");
  var last = mine.length ? mine[mine.length - 1] : null;
  var seen = last && signals.seenId && last.getAttribute("data-id") === signals.seenId;
  if (!seen) {
    if (signals.seenEl.parentNode) {
      signals.seenEl.remove();
    }
  } else if (last.nextSibling !== signals.seenEl) {
    last.after(signals.seenEl); // only when it moves: the observer sees no change of its own
  }
}

hooks.css.push([
  ".omr-typing { padding: 2px 12px 4px; background: #f5f7fa; color: #4a5568; font-size: 12px; font-style: italic; }",
  ".omr-typing[hidden] { display: none; }",
  ".omr-seen { align-self: flex-end; margin-top: -3px; font-size: 11px; color: #718096; }",
].join("\n"));
