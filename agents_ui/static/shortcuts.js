// omnirouter console: keyboard shortcuts for the hourly actions, and "?"
// listing them. Another script adds its own with
// window.consoleShortcuts.add(key, "catalogue.key", run): the help lists it.
// A shortcut never fires while the agent types (an input, a textarea, a
// select), except Escape, which leaves the box.
"use strict";

window.consoleShortcuts = (() => {
  const shortcuts = []; // {key, label, run}

  function add(key, label, run) {
    shortcuts.push({ key, label, run });
  }

  function typing(target) {
    return target instanceof HTMLElement
      && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  function rows() {
    return [...document.querySelectorAll('#conversations [data-testid="conversation"]')];
  }

  function step(by) {
    const all = rows();
    if (!all.length) return;
    const at = all.findIndex((row) => row.classList.contains("selected"));
    const next = all[at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + by))];
    // the keyboard stays on the list: the next j or k moves on
    document.dispatchEvent(new CustomEvent("conversation:open", { detail: { id: next.dataset.id, focus: false } }));
    next.scrollIntoView({ block: "nearest" });
  }

  function press(testid) {
    const button = document.querySelector(`[data-testid="${testid}"]`);
    if (button && !button.hidden && button.offsetParent !== null) button.click();
  }

  function dialog() {
    let box = document.getElementById("shortcuts-help");
    if (box) return box;
    box = document.createElement("dialog");
    box.id = "shortcuts-help";
    box.className = "shortcuts-help";
    box.dataset.testid = "shortcuts-help";
    document.body.append(box);
    return box;
  }

  function showHelp() {
    const box = dialog();
    const title = document.createElement("h2");
    title.textContent = t("help.title");
    const list = document.createElement("dl");
    for (const s of shortcuts) {
      const key = document.createElement("dt");
      const kbd = document.createElement("kbd");
      kbd.textContent = s.key;
      key.append(kbd);
      const what = document.createElement("dd");
      what.textContent = t(s.label);
      list.append(key, what);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn";
    close.textContent = t("help.close");
    close.addEventListener("click", () => box.close());
    box.replaceChildren(title, list, close);
    if (!box.open) box.showModal();
  }

  document.addEventListener("keydown", (event) => {
    const app = document.getElementById("app");
    if (!app || app.hidden || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    // a window over the console (this help, a dialog) has the keyboard: nothing acts behind it
    if (document.querySelector("dialog[open]")) return;
    // so has an open menu or popover (popover.js): its Escape closes it first
    if (window.consolePopover && window.consolePopover.anyOpen()) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const found = shortcuts.find((s) => s.key === event.key);
    if (!found) return;
    event.preventDefault();
    found.run();
  });

  add("j", "help.next", () => step(1));
  add("k", "help.previous", () => step(-1));
  add("r", "help.reply", () => {
    const box = document.querySelector('[data-testid="reply"]');
    if (box && box.offsetParent !== null) box.focus();
  });
  add("e", "help.resolve", () => press("resolve"));
  add("?", "help.help", showHelp);

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.querySelector('[data-testid="help"]');
    if (button) button.addEventListener("click", showHelp);
  });

  return { add, showHelp };
})();
