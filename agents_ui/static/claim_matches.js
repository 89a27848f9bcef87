// omnirouter console: claims that match someone. A customer gave (typed, or
// sent in a form) a phone/email that another customer is proven on: the
// holder's panel says someone claims it, the claimant's claim row says whose
// it is; from either, the agent sends a code (to the holder's channel, for the
// claimant's claim) or dismisses the hint. Agents only: a customer never sees it.
// Every value is set with textContent: claims are customer input.
"use strict";

window.ClaimMatches = (() => {
  // the texts of this part of the panel, from the console's catalogue
  const T = {
    section: () => t("claims.section"),
    // «этот номер», «этот адрес»: the kind's own word, not its code ("этот phone")
    someoneClaims: (who, kind) => (i18next.exists(`claims.someone_claims_${kind}`)
      ? t(`claims.someone_claims_${kind}`, { who }) : t("claims.someone_claims", { who, kind })),
    visitor: (channel) => t("claims.visitor", { channel }),
    matchesKnown: () => t("claims.matches_known"),
    knownOn: (channels) => t("claims.known_on", { channels }),
    claimedBy: () => t("claims.claimed_by"),
    sendCode: () => t("customer.send_code"),
    dismiss: () => t("claims.dismiss"),
    dismissWhy: () => t("claims.dismiss_why"),
    dismissDefault: () => t("claims.dismiss_default"),
    codeSent: (channels) => t("claims.code_sent", { channels }),
    dismissed: () => t("claims.dismissed"),
    noConversation: () => t("claims.no_conversation"),
  };

  // the channels' names come from GET /api/channels (channels.js), as everywhere in the console
  const channelName = (channel) => (window.channelSwitch ? window.channelSwitch.label(channel) : channel);
  // a claim's source is "<channel>:<how>" (webchat:claimed_phone, telegram:text)
  const claimChannel = (claim) => channelName(String(claim.source).split(":")[0]);

  // open the other customer's latest conversation: its panel comes with it
  async function openCustomer(kit, customerId) {
    const detail = await kit.call("GET", `/api/customers/${encodeURIComponent(customerId)}`);
    const latest = detail.conversations[0];
    if (!latest) throw new Error(T.noConversation());
    document.dispatchEvent(new CustomEvent("conversation:open", { detail: { id: latest.id } }));
  }

  function customerLink(kit, id, name) {
    const link = kit.node("a", "cp-link", `${window.customerLabel(name, id)} (${id})`);
    link.href = "#";
    link.dataset.testid = "match-customer";
    link.dataset.customer = id;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      openCustomer(kit, id).catch((err) => { document.getElementById("cp-note").textContent = err.message; });
    });
    return link;
  }

  function actions(kit, match) {
    const claim = match.claim;
    const path = `/api/customers/${encodeURIComponent(claim.customer_id)}/claims/${encodeURIComponent(claim.id)}`;
    const send = kit.node("button", "btn small", T.sendCode());
    send.type = "button";
    send.dataset.testid = "match-send-code";
    send.addEventListener("click", () => kit.act(() => kit.call("POST", `${path}/verify`),
      T.codeSent(match.holder_channels.map((c) => (window.channelSwitch ? window.channelSwitch.where(c) : c))
        .join(", "))));
    const dismiss = kit.node("button", "btn small", T.dismiss());
    dismiss.type = "button";
    dismiss.dataset.testid = "match-dismiss";
    dismiss.addEventListener("click", () => {
      const reason = window.prompt(T.dismissWhy(), T.dismissDefault());
      if (reason && reason.trim()) kit.act(() => kit.call("POST", `${path}/dismiss`, { reason: reason.trim() }), T.dismissed());
    });
    const box = kit.node("div", "cp-actions");
    box.append(send, dismiss);
    return box;
  }

  // on the holder's panel: other customers' claims of a key this customer is proven on
  function holderRow(kit, match) {
    const claim = match.claim;
    const row = kit.node("div", "cp-item cp-match");
    row.dataset.testid = "claim-match";
    row.append(kit.node("div", "cp-value", T.someoneClaims(T.visitor(claimChannel(claim)), claim.kind)));
    row.append(kit.node("div", "cp-value", `${claim.kind}: ${claim.value}`));
    const who = kit.node("div", "muted small");
    who.append(`${T.claimedBy()} `, customerLink(kit, claim.customer_id, match.claimant_name),
      ` · ${claim.source} · ${kit.when(claim.created_at)}`);
    row.append(who, actions(kit, match));
    return row;
  }

  function holderSection(kit, detail, customerId) {
    const rows = (detail.matches || []).filter((m) => m.holder_id === customerId).map((m) => holderRow(kit, m));
    if (!rows.length) return [];
    const box = kit.node("section", "cp-section");
    box.dataset.testid = "cp-claimed-by";
    box.append(kit.node("h3", "cp-title", T.section()), ...rows);
    return [box];
  }

  // on the claimant's panel, inside the claim's row: whose key it is
  function claimantHints(kit, claim, matches) {
    return (matches || []).filter((m) => m.claim.id === claim.id).map((m) => {
      const hint = kit.node("div", "cp-match");
      hint.dataset.testid = "claim-match";
      const line = kit.node("div", "small");
      line.append(`${T.matchesKnown()}: `, customerLink(kit, m.holder_id, m.holder_name),
        ` · ${T.knownOn(m.holder_channels.map(channelName).join(", "))}`);
      hint.append(line, actions(kit, m));
      return hint;
    });
  }

  return { holderSection, claimantHints };
})();
