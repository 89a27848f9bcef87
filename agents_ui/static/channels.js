// omnirouter console: where the customer moved to another channel. A divider
// before the customer's message that came by another channel than their
// message before it, so the agent never answers an old question on a channel
// the customer left (a reply goes where they wrote last). Names of channels
// come from GET /api/channels; every text reaches the page through textContent.
"use strict";

window.channelSwitch = (() => {
  // channel -> its name for people, in the console's language; and where a sentence sends something
  // («по почте», «в чате на сайте»; "by email", "in the site chat"), which Russian declines
  let labels = new Map();
  let wheres = new Map();

  async function load() {
    const data = await window.consoleApi.get("/api/channels");
    const own = (texts, name) => (texts && (texts[i18n.lang] || Object.values(texts)[0])) || name;
    labels = new Map(data.channels.map((c) => [c.name, own(c.label, c.name)]));
    wheres = new Map(data.channels.map((c) => [c.name, own(c.where, c.name)]));
  }

  function label(channel) {
    return labels.get(channel) || channel;
  }

  function where(channel) {
    return wheres.get(channel) || label(channel);
  }

  function fromCustomer(msg) {
    return msg.direction === "in" && msg.author === "customer" && !(msg.core && msg.core.automated);
  }

  // the divider before ``msg`` (null: none), given the messages shown before it, oldest first
  function node(msg, shown) {
    if (!fromCustomer(msg)) return null;
    const before = shown.filter((m) => m.id !== msg.id && fromCustomer(m)).at(-1);
    if (!before || before.channel === msg.channel) return null;
    const li = document.createElement("li");
    li.className = "channel-switch";
    li.textContent = t("channels.moved", { from: label(before.channel), to: label(msg.channel) });
    li.dataset.testid = "channel-switch";
    li.dataset.from = before.channel;
    li.dataset.to = msg.channel;
    return li;
  }

  // label: a channel's name for people, for every panel that names channels
  return { load, node, label, where };
})();
