// omnirouter console: the panes at every width. Wide: the list, the
// conversation and the customer side by side. Medium (below 1200 px): the
// customer panel opens over the conversation with the "Customer" button.
// Narrow (below 700 px): one pane at a time, list → conversation → customer,
// each with its way back. The view is #app's data-view; CSS does the rest.
"use strict";

(() => {
  const app = () => document.getElementById("app");
  const toggle = () => document.querySelector('[data-testid="show-customer"]');

  function show(view) {
    app().dataset.view = view;
    toggle().setAttribute("aria-expanded", String(view === "customer"));
    if (view === "list") {
      const row = document.querySelector('#conversations [data-testid="conversation"].selected');
      if (row) row.focus({ preventScroll: false });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!app()) return;
    app().dataset.view = "list";
    document.querySelector('[data-testid="back"]').addEventListener("click", () => show("list"));
    document.querySelector('[data-testid="hide-customer"]').addEventListener("click", () => show("conversation"));
    toggle().addEventListener("click", () => show(app().dataset.view === "customer" ? "conversation" : "customer"));
  });

  document.addEventListener("conversation:selected", () => show("conversation"));
  // Escape closes the customer panel that covers the conversation
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && app() && app().dataset.view === "customer") show("conversation");
  });

  window.consoleLayout = { show };
})();
