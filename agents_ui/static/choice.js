// omnirouter console: a select whose choice is an action (Transfer to…, Reassign to…)
// acts on a committed choice only. A browser moves a closed select's value with the
// arrow keys (and a typed letter) and fires "change" at each step: acting on that
// would transfer the conversation to the first team an agent walks past. Here:
// - the mouse (or a list opened with Space or Alt+Down, then picked) acts at once;
// - the arrows only show the choice; Enter commits it; Escape or leaving the select
//   drops it: the select shows again what it showed before the keys moved it (the
//   placeholder of Transfer, the agent's presence), and nothing happened.
// window.onCommittedChoice(select, act): act(value) runs once per committed choice.
"use strict";

window.onCommittedChoice = (() => {
  const MOVES = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"]);

  return (select, act) => {
    let browsing = false; // the value shown was reached by keys, not chosen
    let before = ""; // what the select showed when the keys began to move it

    function commit() {
      browsing = false;
      if (select.value) act(select.value);
    }

    function drop() {
      browsing = false;
      select.value = before;
    }

    select.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        if (!select.value) return;
        event.preventDefault();
        commit();
      } else if (event.key === "Escape") {
        if (browsing) drop();
      } else if (event.key === " " || event.altKey) {
        browsing = false; // the list opens (Space, Alt+Down): its pick is a choice
      } else if (MOVES.has(event.key) || event.key.length === 1) {
        // a key that moves the closed list's value: a look, not a choice
        if (!browsing) before = select.value;
        browsing = true;
      } // Tab, Shift…: the look stays a look, dropped when the select is left
    });
    select.addEventListener("change", () => {
      if (!browsing) commit();
    });
    select.addEventListener("mousedown", () => { browsing = false; }); // a pointer opens the list: its pick is a choice
    select.addEventListener("blur", () => {
      if (browsing) drop();
    });
  };
})();
