// omnirouter console: every tab list ([role="tablist"]) as the WAI-ARIA tabs pattern.
// One tab is in the Tab order, the selected one (a roving tabindex); Left and Right
// move to the previous and next tab (round the ends), Home and End to the first and
// last, and the tab reached is chosen at once: a click on it, so each list's own
// click handler (console.js's filters) does the choosing as it does for the mouse.
"use strict";

(() => {
  const tabsOf = (list) => [...list.querySelectorAll('[role="tab"]')].filter((tab) => !tab.hidden && !tab.disabled);

  // the selected tab takes the Tab key; the others only the arrows
  function rove(list) {
    const tabs = tabsOf(list);
    const chosen = tabs.find((tab) => tab.getAttribute("aria-selected") === "true") || tabs[0];
    for (const tab of tabs) tab.tabIndex = tab === chosen ? 0 : -1;
  }

  function onKey(event) {
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    const list = tab && tab.closest('[role="tablist"]');
    if (!list || event.altKey || event.ctrlKey || event.metaKey) return;
    const tabs = tabsOf(list);
    const at = tabs.indexOf(tab);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined || at < 0) return;
    event.preventDefault();
    const target = tabs[(next + tabs.length) % tabs.length];
    target.focus();
    if (target.getAttribute("aria-selected") !== "true") target.click();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll('[role="tablist"]').forEach(rove);
    // whoever selects a tab (a click, a script), the roving tabindex follows aria-selected
    new MutationObserver((changes) => {
      const lists = new Set(changes.map((c) => c.target.closest && c.target.closest('[role="tablist"]')));
      lists.forEach((list) => list && rove(list));
    }).observe(document.body, { attributes: true, attributeFilter: ["aria-selected"], subtree: true });
  });
})();
