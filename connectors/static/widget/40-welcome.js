// ---- the greeting, the pre-chat form and whether people answer now
//
// SERVER_CONFIG.greeting: {"ru": ..., "en": ...} shown at the top of an empty
// chat (never stored: it is the site's sign, not a message).
// SERVER_CONFIG.prechat: {"name": mode, "phone": mode, "email": mode}, each
// "off", "optional" or "required": asked once, before a new visitor's first
// connection, and sent in the hello as what the visitor told us (claims, not
// proven identities).
// The welcome frame's "availability": {"people_now": bool, "opens_at": iso or
// null}: the status line says so instead of a bare "online"; an "availability"
// frame (the visitor's conversation routed to a team) says it anew.

var KEY_PRECHAT = "omnirouter.prechat";
var PRECHAT_FIELDS = ["name", "phone", "email"];
var availability = null;

function prechatMode(field) {
  var modes = SERVER_CONFIG.prechat || {};
  // what the site already passed (data-name, ...) is not asked again
  return scriptData[field] ? "off" : modes[field] || "off";
}

function prechatAsked() {
  return PRECHAT_FIELDS.some(function (f) { return prechatMode(f) !== "off"; });
}

function storedPrechat() {
  try {
    var given = JSON.parse(load(KEY_PRECHAT) || "null");
    return given && typeof given === "object" ? given : null;
  } catch (e) {
    return null;
  }
}

// a returning visitor (the server knows them) or one who filled the form in is not asked
function prechatPending() {
  return prechatAsked() && !state.visitorId && storedPrechat() === null;
}

hooks.hello.push(function (hello) {
  var given = storedPrechat() || {};
  PRECHAT_FIELDS.forEach(function (field) {
    if (!hello[field] && typeof given[field] === "string" && given[field]) {
      hello[field] = given[field].slice(0, 256);
    }
  });
});

hooks.start.push(function () {
  if (!prechatPending()) {
    return true;
  }
  showPrechat();
  return false;
});

function fieldLabel(field) {
  return { name: say("prechat_name"), phone: say("prechat_phone"), email: say("prechat_email") }[field];
}

function prechatProblem(values) {
  for (var i = 0; i < PRECHAT_FIELDS.length; i++) {
    var field = PRECHAT_FIELDS[i];
    var value = values[field] || "";
    if (prechatMode(field) === "required" && !value) {
      return say("prechat_required", { field: fieldLabel(field) });
    }
    if (field === "email" && value && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
      return say("prechat_bad_email");
    }
    if (field === "phone" && value && (!/^[+\d\s().-]+$/.test(value) || value.replace(/\D/g, "").length < 5)) {
      return say("prechat_bad_phone");
    }
  }
  return "";
}

function showPrechat() {
  if (!ui || ui.panel.querySelector("[data-omr=prechat]")) {
    return;
  }
  var form = el("form", "omr-prechat", { "data-omr": "prechat", novalidate: "" });
  var intro = el("p", "omr-prechat-intro");
  intro.textContent = say("prechat_intro");
  form.appendChild(intro);
  var inputs = {};
  PRECHAT_FIELDS.forEach(function (field) {
    var mode = prechatMode(field);
    if (mode === "off") {
      return;
    }
    var label = el("label", "omr-field");
    var caption = el("span", "");
    caption.textContent = fieldLabel(field) + (mode === "optional" ? " (" + say("prechat_optional") + ")" : "");
    var input = el("input", "omr-input", {
      name: field, "data-omr": "prechat-" + field, maxlength: "256",
      type: field === "email" ? "email" : field === "phone" ? "tel" : "text",
      autocomplete: field === "phone" ? "tel" : field,
    });
    if (mode === "required") {
      input.setAttribute("aria-required", "true");
    }
    inputs[field] = input;
    label.append(caption, input);
    form.appendChild(label);
  });
  var problem = el("div", "omr-note", { "data-omr": "prechat-error", role: "alert" });
  var buttons = el("div", "omr-prechat-buttons");
  var go = el("button", "omr-send", { type: "submit", "data-omr": "prechat-start" });
  go.textContent = say("prechat_start");
  buttons.appendChild(go);
  var required = PRECHAT_FIELDS.some(function (f) { return prechatMode(f) === "required"; });
  if (!required) {
    var skip = el("button", "omr-skip", { type: "button", "data-omr": "prechat-skip" });
    skip.textContent = say("prechat_skip");
    skip.addEventListener("click", function () { finishPrechat(form, {}); });
    buttons.appendChild(skip);
  }
  form.append(problem, buttons);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var values = {};
    Object.keys(inputs).forEach(function (field) { values[field] = inputs[field].value.trim(); });
    var text = prechatProblem(values);
    problem.textContent = text;
    if (!text) {
      finishPrechat(form, values);
    }
  });
  ui.form.hidden = true;
  ui.panel.insertBefore(form, ui.note);
  var first = form.querySelector("input");
  if (first) {
    first.focus();
  }
}

function finishPrechat(form, values) {
  save(KEY_PRECHAT, JSON.stringify(values));
  form.remove();
  ui.form.hidden = false;
  ui.input.focus();
  start();
}

// ---- the greeting

hooks.rendered.push(function (history) {
  // the installation's greeting, else the widget's own; false: none
  var text = SERVER_CONFIG.greeting === false ? "" : localized(SERVER_CONFIG.greeting) || say("greeting");
  if (!text || history.length || ui.messages.querySelector("[data-omr=greeting]")) {
    return;
  }
  var node = el("div", "omr-msg omr-msg--bot omr-msg--greeting", { "data-omr": "greeting" });
  node.textContent = text;
  ui.messages.insertBefore(node, ui.messages.firstChild);
});

// ---- whether people answer now

hooks.welcome.push(function (frame) {
  availability = frame.availability && typeof frame.availability === "object" ? frame.availability : null;
});

// the visitor's conversation was routed: who answers now for the team it went to (its hours may be others)
hooks.frame.availability = function (frame) {
  if (!frame.availability || typeof frame.availability !== "object") {
    return;
  }
  availability = frame.availability;
  if (ui && ui.status.getAttribute("data-state") === "online") {
    setStatus("online");
  }
};

function openingText(iso) {
  var when = new Date(iso);
  if (isNaN(when.getTime())) {
    return say("soon");
  }
  var time = when.toLocaleTimeString(lang, { timeStyle: "short" }); // «09:00», "9:00 AM"
  if (when.toDateString() === new Date().toDateString()) {
    return say("opens_today", { when: time });
  }
  var tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  if (when.toDateString() === tomorrow.toDateString()) {
    return say("opens_tomorrow", { time: time });
  }
  // «Ответим 7 декабря с 09:00»: a weekday would need its own case in Russian («в пятницу»)
  var date = when.toLocaleDateString(lang, { day: "numeric", month: "long" });
  return say("opens_at", { date: date, time: time });
}

// the status line of a connected chat: people answer now, or when they will
function availabilityText() {
  if (ui) {
    ui.status.setAttribute("data-people", !availability ? "" : availability.people_now ? "now"
      : availability.opens_at ? "later" : "soon");
  }
  if (!availability) {
    return "";
  }
  if (availability.people_now) {
    return say("people_now");
  }
  // an opening already past (a tab left open overnight) says nothing it cannot know
  if (availability.opens_at && new Date(availability.opens_at).getTime() > Date.now()) {
    return openingText(availability.opens_at);
  }
  return say("soon");
}

hooks.css.push([
  ".omr-prechat { padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #fff;",
  "  border-top: 1px solid #e2e8f0; }",
  ".omr-prechat-intro { font-size: 13px; color: #4a5568; }",
  ".omr-field { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: #4a5568; }",
  ".omr-field .omr-input { height: 36px; }",
  ".omr-prechat-buttons { display: flex; gap: 8px; }",
  ".omr-prechat-buttons .omr-send { height: 36px; }",
  ".omr-skip { border: 1px solid #cbd5e0; border-radius: 8px; padding: 0 14px; background: #fff; color: inherit;",
  "  font: inherit; cursor: pointer; }",
  ".omr-msg--greeting { font-style: italic; }",
  ".omr-msg--greeting::after { content: none; }",
  ".omr-form[hidden] { display: none; }",
  ".omr-launcher svg { display: block; }",
].join("\n"));
