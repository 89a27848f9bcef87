// omnirouter agent console: the sign-in says why it is there when a session ended without the
// agent's Log out (it expired, or was ended elsewhere): console.js marks it before it loads the
// page afresh (which forgets everything of the agent's), and the fresh sign-in shows the word once.
// The mark is a flag in this tab's sessionStorage, nothing of the agent's.
"use strict";

window.sessionEnd = (() => {
  const KEY = "omnirouter.session_ended";

  function mark() {
    try {
      sessionStorage.setItem(KEY, "1");
    } catch {
      // storage refused (a private window's quota): the sign-in shows without the word
    }
  }

  // notice: the sign-in's element for it, filled (or emptied and hidden) by what was marked
  function show(notice) {
    let ended = false;
    try {
      ended = sessionStorage.getItem(KEY) === "1";
      sessionStorage.removeItem(KEY);
    } catch {
      ended = false; // storage refused: nothing was marked
    }
    notice.textContent = ended ? t("login.session_ended") : "";
    notice.hidden = !ended;
  }

  return { mark, show };
})();
