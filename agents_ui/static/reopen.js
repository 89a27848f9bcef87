// omnirouter console: a conversation its customer reopened by writing after a
// resolve (rules.yaml's reopen) says so in its header, with how many times and
// when last, so the agent reads it as the same case come back. Words from the
// catalogues (t(), under "reopen"), times from fmt.
"use strict";

(() => {
  function decorateHeader(conv) {
    const meta = document.querySelector("#conv-meta");
    if (!meta || !conv.reopens) return; // renderHeader rebuilds the meta: nothing of ours is left to remove
    const chip = document.createElement("span");
    chip.className = "chip reopened";
    chip.dataset.testid = "reopened";
    chip.textContent = t("reopen.chip", { count: conv.reopens });
    if (conv.reopened_at) chip.title = t("reopen.at", { time: fmt.dateTime(conv.reopened_at) });
    meta.append(chip);
  }

  window.reopenUI = { decorateHeader };
})();
