// omnirouter console: what the screens over the console share (Agents, Reports, Wallboard,
// Webhooks). The small DOM helpers (every text through textContent), and a screen's wiring:
// its section under #app, its button in the top bar (before "Sign out") shown to whom may use
// it, closed at sign-out and by Escape, the console's one-key shortcuts held back while it is
// open. Each screen draws its own content; this file knows none of them.
"use strict";

window.consoleScreens = (() => {
  const tr = (key, vars) => window.t(key, vars);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function testid(node, id) {
    node.dataset.testid = id;
    return node;
  }

  function button(text, className, id, onClick) {
    const node = testid(el("button", `btn ${className || ""}`, text), id);
    node.type = "button";
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }

  // a form's field: its name above the control
  function labelled(text, control) {
    const label = el("label", "field");
    label.append(el("span", "", text), control);
    return label;
  }

  // spec: name ("reports": #reports-screen, its button "reports-open", body.reports-screen-open
  //   while it is open); title and openLabel: catalogue keys; allowed(): async, whether the
  //   signed-in agent sees the button (the server checks every call again); opened(node): async,
  //   fills the screen once shown; showError(err): where an error of opening is told.
  //   Optional: build(node), what the section holds from the start; closed(), forget what was
  //   shown; afterShown(), once the button follows a sign-in or a change of rights; signedOut(),
  //   before the screen closes at sign-out; fieldsKeepKeys (default true): a key typed in a field
  //   behind the screen reaches it (Escape there does not close the screen).
  function define(spec) {
    const id = `${spec.name}-screen`;
    const bodyClass = `${spec.name}-screen-open`;
    const fieldsKeepKeys = spec.fieldsKeepKeys !== false;

    function node() {
      let section = document.getElementById(id);
      if (section) return section;
      section = testid(el("section", id), id);
      section.id = id;
      section.hidden = true;
      section.setAttribute("aria-label", tr(spec.title));
      section.tabIndex = -1; // the keyboard is put on the screen itself as it opens: its first Tab is its first control
      if (spec.build) spec.build(section);
      document.getElementById("app").append(section);
      return section;
    }

    function isOpen() {
      const section = document.getElementById(id);
      return Boolean(section && !section.hidden);
    }

    // the screen covers the console: while it is open the keyboard is on it, and what lies behind
    // is inert (a Tab never reaches a control nobody sees); shut, the keyboard goes back to what
    // opened it (the "More" menu's button when that was an item of the menu)
    let opener = null;

    // the last screen shown is the one that has the keyboard; with none, nothing is inert
    function settleInert() {
      const app = document.getElementById("app");
      const shown = [...app.children].filter((c) => c.id.endsWith("-screen") && !c.hidden).at(-1);
      for (const other of app.children) other.inert = Boolean(shown) && other !== shown;
    }

    async function open() {
      const section = node();
      const wasOpen = !section.hidden;
      if (!wasOpen) opener = document.activeElement;
      section.hidden = false;
      document.body.classList.add(bodyClass);
      settleInert();
      try {
        await spec.opened(section);
      } finally {
        // the keyboard goes to the screen once it holds what it shows: put there before the
        // screen's controls came, a Tab would find none and drop the keyboard to <body>
        if (!wasOpen && !section.hidden && !section.contains(document.activeElement)) section.focus({ preventScroll: true });
      }
    }

    function close() {
      const section = document.getElementById(id);
      const wasOpen = Boolean(section && !section.hidden);
      if (section) section.hidden = true;
      document.body.classList.remove(bodyClass);
      if (wasOpen) settleInert();
      if (spec.closed) spec.closed();
      const back = opener;
      opener = null;
      if (wasOpen && !document.getElementById("app").hidden) window.consolePopover.refocus(back);
    }

    function openButton() {
      let node = document.querySelector(`[data-testid="${spec.name}-open"]`);
      if (node) return node;
      node = button(tr(spec.openLabel), "ghost", `${spec.name}-open`, () => open().catch(spec.showError));
      const logout = document.querySelector('[data-testid="logout"]');
      logout.parentNode.insertBefore(node, logout);
      return node;
    }

    async function shown() {
      const allowed = await spec.allowed();
      openButton().hidden = !allowed;
      if (!allowed) close();
      if (spec.afterShown) await spec.afterShown();
    }

    // #app is hidden at sign-out and shown after a sign-in
    document.addEventListener("DOMContentLoaded", () => {
      const app = document.getElementById("app");
      if (!app) return;
      new MutationObserver(() => {
        if (app.hidden) {
          if (spec.signedOut) spec.signedOut();
          close();
          return;
        }
        shown().catch(() => {});
      }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
    });

    // my own role changed (api.js asked /api/me again): the button follows it
    document.addEventListener("console:permissions", () => {
      if (!document.getElementById("app").hidden) shown().catch(() => {});
    });

    // over the screen the console's one-key shortcuts must not act on the conversation behind it
    // ("e" would resolve it): they stop here; Escape closes the screen
    window.addEventListener("keydown", (event) => {
      if (!isOpen() || event.ctrlKey || event.metaKey || event.altKey) return;
      if (fieldsKeepKeys && event.target.closest && event.target.closest("input, textarea, select")) return;
      event.stopPropagation();
      if (event.key === "Escape") close();
    }, true);

    return { node, isOpen, open, close };
  }

  return { el, testid, button, labelled, define };
})();
