// omnirouter console: where the keyboard goes when what held it hides itself.
// An action pressed in the conversation's header hides itself (Resolve gives
// way to Reopen, Take to the composer): the keyboard goes on to what follows
// it, never to <body>, from where a Tab runs through the whole console.
// console.js calls keepHeaderFocus(the element focused before) after it
// redraws the header.
"use strict";

window.keepHeaderFocus = (() => {
  const FOCUS_AFTER = { take: '[data-testid="reply"]', resolve: '[data-testid="reopen"]', reopen: '[data-testid="reply"]' };
  const shown = (selector) => [...document.querySelectorAll(selector)].find((node) => node.checkVisibility());

  return (focused) => {
    if (!focused || !focused.closest(".conv-header") || focused.checkVisibility()) return;
    const next = (FOCUS_AFTER[focused.dataset.testid] && shown(FOCUS_AFTER[focused.dataset.testid]))
      || shown(".conv-header .actions button");
    if (next) next.focus();
  };
})();
