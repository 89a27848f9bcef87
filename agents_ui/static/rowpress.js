// omnirouter console: a press on a conversation's row opens it even when the list was drawn
// again between the press and the release. Every live event draws the list anew (console.js,
// renderList), and a browser fires no click on a row it replaced meanwhile: under traffic an
// agent's click on a row was lost now and then, and nothing opened.
"use strict";

(() => {
  const ROW = '[data-testid="conversation"]';
  const list = document.getElementById("conversations");
  let pressed = null; // the row a pointer went down on

  list.addEventListener("pointerdown", (event) => {
    pressed = event.button === 0 ? event.target.closest(ROW) : null;
  });
  list.addEventListener("pointerup", (event) => {
    const row = event.target.closest(ROW);
    const before = pressed;
    pressed = null;
    // the same row drawn anew: no click comes (one on the same element opens it as usual, in console.js)
    if (row && before && row !== before && row.dataset.id === before.dataset.id) {
      select(row.dataset.id).catch(showActionError);
    }
  });
})();
