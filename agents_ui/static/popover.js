// omnirouter console: what every menu and popover of the console does alike,
// in one place, so a new one cannot forget any of it:
// - Escape closes the last one opened (and gives the keyboard back to its button);
// - a click outside it closes it;
// - while one is open, the one-key shortcuts do not act (shortcuts.js asks anyOpen());
// - a floating panel lies inside the window at every width (placed under its
//   button, moved left or right as far as it would run past an edge).
// A <details> menu: consolePopover.details(node). Any other popover:
// consolePopover.attach(trigger, panel, close), then opened(panel) / closed(panel)
// as it shows and hides. Open panels carry data-popover-open, their buttons
// data-popover-trigger (the tests find every popover by these).
"use strict";

window.consolePopover = (() => {
  const MARGIN = 8;
  const known = new WeakMap(); // panel -> {trigger, root, close, place}
  const open = []; // panels open now, oldest first
  const PLACED = ["position", "right", "bottom", "margin-top", "top", "left", "max-width", "max-height", "overflow-y"];

  // under its trigger, inside the window: from the trigger's left edge, else ending at its right edge
  function place(panel, trigger) {
    const width = document.documentElement.clientWidth;
    const at = trigger.getBoundingClientRect();
    Object.assign(panel.style, {
      position: "fixed", right: "auto", bottom: "auto", marginTop: "0",
      top: `${Math.round(at.bottom + 4)}px`, left: `${MARGIN}px`,
      maxWidth: `${width - 2 * MARGIN}px`,
      maxHeight: `${Math.max(120, window.innerHeight - at.bottom - 4 - MARGIN)}px`, overflowY: "auto",
    });
    const size = panel.getBoundingClientRect().width;
    let left = at.left;
    if (left + size > width - MARGIN) left = at.right - size;
    left = Math.min(Math.max(MARGIN, left), width - MARGIN - size);
    panel.style.left = `${Math.round(Math.max(MARGIN, left))}px`;
  }

  function attach(trigger, panel, close, options) {
    trigger.dataset.popoverTrigger = "";
    known.set(panel, { trigger, root: (options && options.root) || null, close,
      place: !options || options.place !== false });
  }

  function opened(panel) {
    const entry = known.get(panel);
    if (!entry) return;
    if (!open.includes(panel)) open.push(panel);
    panel.dataset.popoverOpen = "";
    if (entry.place) place(panel, entry.trigger);
  }

  function closed(panel) {
    const at = open.indexOf(panel);
    if (at >= 0) open.splice(at, 1);
    delete panel.dataset.popoverOpen;
    const entry = known.get(panel);
    // shut, it goes back where its CSS puts it: no place measured for the window of then is left behind
    if (entry && entry.place) PLACED.forEach((name) => panel.style.removeProperty(name));
  }

  function close(panel, refocus) {
    const entry = known.get(panel);
    closed(panel);
    if (!entry) return;
    entry.close();
    if (refocus && entry.trigger.isConnected) entry.trigger.focus();
  }

  // a <details> menu: its panel is what follows the summary
  function details(node) {
    const summary = node.querySelector(":scope > summary");
    const panel = () => node.querySelector(":scope > :not(summary)");
    summary.dataset.popoverTrigger = "";
    summary.setAttribute("aria-haspopup", "dialog");
    node.addEventListener("toggle", () => {
      summary.setAttribute("aria-expanded", String(node.open));
      if (!node.open) {
        open.filter((p) => known.get(p).root === node).forEach(closed);
        return;
      }
      const body = panel(); // a menu may build its panel anew each time it opens
      if (!body) return;
      if (!known.has(body)) attach(summary, body, () => { node.open = false; }, { root: node });
      opened(body);
    });
    return node;
  }

  // where the keyboard goes back when a window over the console shuts (a screen, a dialog): to
  // what opened it; one in a menu that shut meanwhile (the "More" menu closes on a choice) gives
  // it to that menu's button. Never left on <body>, from where a Tab runs through the whole console
  function refocus(opener) {
    if (!opener || !opener.isConnected) return;
    let target = opener;
    for (let menu = opener.closest("details:not([open])"); menu; menu = menu.parentElement.closest("details:not([open])")) {
      target = menu.querySelector(":scope > summary") || target;
    }
    if (target.checkVisibility()) target.focus();
  }

  // a dialog (the canned replies, the shortcuts' help) gives the keyboard back to what had it before
  // it opened: the browser does so itself, but not when that was an item of a menu shut since
  let lastOutside = null;
  document.addEventListener("focusin", (event) => {
    if (!event.target.closest("dialog")) lastOutside = event.target;
  }, true);
  document.addEventListener("close", (event) => {
    if (event.target.tagName !== "DIALOG") return;
    // the browser's own return failed: the keyboard is still inside the shut dialog, or on <body>
    const active = document.activeElement;
    if (!active || active === document.body || event.target.contains(active)) refocus(lastOutside);
  }, true);

  function anyOpen() {
    return open.some((panel) => panel.isConnected);
  }

  function inside(panel, target) {
    const entry = known.get(panel);
    return panel.contains(target) || (entry && (entry.trigger.contains(target)
      || (entry.root && entry.root.contains(target))));
  }

  // Escape: before any other handler (the customer panel's, a text box's blur), the last one opened closes
  window.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !anyOpen()) return;
    event.preventDefault();
    event.stopPropagation();
    close(open.filter((p) => p.isConnected).at(-1), true);
  }, true);

  // a press anywhere else closes every open one
  document.addEventListener("pointerdown", (event) => {
    for (const panel of [...open]) {
      if (!panel.isConnected) closed(panel);
      else if (!inside(panel, event.target)) close(panel, false);
    }
  }, true);

  window.addEventListener("resize", () => {
    for (const panel of open) {
      const entry = known.get(panel);
      if (entry && entry.place && panel.isConnected) place(panel, entry.trigger);
    }
  });

  // the page's own menus (the top bar's "More"): a choice made in one closes it
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("details[data-popover]").forEach((node) => {
      details(node);
      node.addEventListener("click", (event) => {
        if (event.target.closest("button") && !event.target.closest("summary")) node.open = false;
      });
      node.addEventListener("change", () => { node.open = false; });
    });
  });

  return { details, attach, opened, closed, anyOpen, place, refocus };
})();
