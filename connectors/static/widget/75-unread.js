// ---- replies waiting for a returning visitor
//
// The launcher's badge counts the answers that came while the chat was folded. A visitor who
// left the site before an agent answered comes back to a folded chat: the answer is in the
// history of the welcome, not a live message, and was counted nowhere, so nothing told them an
// answer was waiting. The last message the visitor had in front of them (the chat open) is kept
// in localStorage; a welcome while the chat is folded counts the answers after it.

var KEY_READ = "omnirouter.read";

function markRead() {
  var shown = ui && isOpen() ? ui.messages.querySelectorAll("[data-omr=message][data-id]") : [];
  if (shown.length) {
    save(KEY_READ, shown[shown.length - 1].getAttribute("data-id"));
  }
}

hooks.open.push(markRead);

// while the chat is open, whatever joins the thread is read: a message drawn, or the visitor's own
// acknowledged (it gets its id then)
hooks.ui.push(function (ui) {
  new MutationObserver(function () {
    if (isOpen()) {
      markRead();
    }
  }).observe(ui.messages, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-id"] });
});

hooks.rendered.push(function (history) {
  if (isOpen()) {
    markRead();
    return;
  }
  var read = load(KEY_READ);
  var ids = history.map(function (m) { return m && m.id; });
  var at = read ? ids.lastIndexOf(read) : -1;
  if (at < 0) {
    return; // nothing known of what they read (a first visit, or a history that no longer reaches it)
  }
  var waiting = history.slice(at + 1).filter(function (m) { return m.author !== "customer"; }).length;
  state.unread = waiting;
  ui.badge.textContent = String(waiting);
  ui.badge.hidden = waiting === 0;
});
