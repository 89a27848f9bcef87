// omnirouter agent console: a channel's reply window has closed (WhatsApp's
// 24 hours): the reply is refused with the channels and the template that can
// still reach the customer, offered here. console.js's sendReply calls
// showWindowNotice; it shares console.js's globals (state, el, act, showMessage).
"use strict";

function hideWindowNotice() {
  const notice = $("#window-notice");
  notice.hidden = true;
  notice.replaceChildren();
}

function pickChannel(channel) {
  const select = $("#reply-channel");
  if (![...select.options].some((o) => o.value === channel)) {
    const opt = el("option", null, t("composer.reply_by", { where: window.channelSwitch.where(channel) }));
    opt.value = channel;
    select.append(opt);
  }
  select.value = channel;
}

async function sendTemplate(channel) {
  try {
    const data = await act("template", { channel });
    hideWindowNotice();
    showMessage(data.message);
  } catch (err) {
    showActionError(err);
  }
}

function showWindowNotice(err) {
  // the agent's text stays in the box: they choose where it goes instead
  const d = err.details;
  const notice = $("#window-notice");
  const actions = el("div", "window-actions");
  if (d.template) {
    const button = el("button", "btn", t("window.send_template"));
    button.type = "button";
    button.dataset.testid = "send-template";
    button.title = d.template;
    button.addEventListener("click", () => sendTemplate(d.channel));
    actions.append(button, el("span", "muted window-template", `“${d.template}”`));
  }
  for (const channel of d.channels || []) {
    const button = el("button", "btn", t("window.send_by", { where: window.channelSwitch.where(channel) }));
    button.type = "button";
    button.dataset.testid = "reply-by";
    button.dataset.channel = channel;
    button.addEventListener("click", () => {
      pickChannel(channel);
      hideWindowNotice();
      $("#reply-form").requestSubmit();
    });
    actions.append(button);
  }
  const text = el("p", "window-text", i18n.error(err));
  text.dataset.testid = "window-text";
  notice.replaceChildren(text, actions);
  notice.hidden = false;
}
