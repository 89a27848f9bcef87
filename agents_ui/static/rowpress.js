// omnirouter console: the conversation list under live traffic. A press on a row opens it even
// when the list was drawn again between the press and the release, and a burst of events is
// drawn once (drawListSoon, below). A live event draws the list anew (console.js,
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

// Live events come in bursts, and each drew the whole list anew (~126 ms at 1,000 rows in
// JavaScript alone): ten events a second left an agent's clicks and keys waiting behind the
// draws. A burst is drawn once: the next draw waits at least as long as the last one took, so
// drawing holds the page at most about half the time. A draw for another cause (a tab, a
// selection, the list loaded) is at once, as before (console.js, renderList).
const LIST_PAUSE_MS = 40;
let listSoon = null;
let listCost = 0;

// console.js's upsertConversation draws through it
function drawListSoon() {
  if (listSoon !== null) return;
  listSoon = setTimeout(() => {
    listSoon = null;
    const started = performance.now();
    renderList();
    listCost = performance.now() - started;
  }, Math.max(LIST_PAUSE_MS, listCost));
}
