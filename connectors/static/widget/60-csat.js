// ---- satisfaction survey: five labelled star buttons under the question
//
// The server sends {"type":"survey","message_id","survey_id","labels":[5]} right
// after the question's message frame; a press answers with
// {"type":"rating","survey_id","score","client_id"}, acknowledged as a message
// is. A press is kept (here and in localStorage, so a reload keeps it too) until
// the server acknowledges it, and sent again on every welcome meanwhile: one
// pressed while the connection is down is not lost. It keeps its client_id, so
// the server stores it once however often it goes (and a survey rated already
// is not rated again). The buttons stay drawn until one is pressed, across a
// fresh welcome (they are put back under the question) but not across a
// reload: the customer can always type the number instead.

var KEY_RATINGS = "omnirouter.pending_ratings";
var STAR_ICON = "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6L2.5 9.4l6.6-.8z";
var surveysByMessage = {}; // question's message id -> {frame, chosen, group}
var pendingRatings = storedList(KEY_RATINGS, isRating); // [{client_id, survey_id, score}] not yet acknowledged

function isRating(item) {
  return item && typeof item.client_id === "string" && typeof item.survey_id === "string" &&
    typeof item.score === "number";
}

// one kept a survey: a new press replaces what another tab kept for it
function keepRatings(add, removeClientId) {
  changeList(KEY_RATINGS, isRating, function (r) {
    return r.client_id !== removeClientId && !(add && r.survey_id === add.survey_id);
  }, add);
}

function pendingFor(surveyId) {
  return pendingRatings.filter(function (r) { return r.survey_id === surveyId; })[0] || null;
}

function sendRating(item) {
  return sendFrame({ type: "rating", survey_id: item.survey_id, score: item.score, client_id: item.client_id });
}

// every welcome (a reconnect, a reload): what was pressed and not acknowledged goes again
hooks.welcome.push(function () {
  pendingRatings.forEach(sendRating);
});

// a rating not yet acknowledged: a welcome does not prove the service takes what waits
hooks.pending.push(function () {
  return pendingRatings.length > 0;
});

hooks.ack.push(function (frame) {
  var item = pendingRatings.filter(function (r) { return r.client_id === frame.client_id; })[0];
  if (!item) {
    return;
  }
  pendingRatings.splice(pendingRatings.indexOf(item), 1);
  keepRatings(null, item.client_id);
  Object.keys(surveysByMessage).forEach(function (id) {
    var survey = surveysByMessage[id];
    if (survey.frame.survey_id === item.survey_id && survey.group) {
      note(survey.group, say("csat_thanks", { score: item.score }));
    }
  });
});

// codes that say "later", not "never": the rating stays kept and goes again
var RATING_RETRIED = { rate_limited: true, busy: true, unavailable: true, hello_required: true };

// refused as too fast, or while the service is busy: it goes again when the server says (a reconnect meanwhile sends it anyway);
// refused for good (a frame the server cannot take): dropped, and the customer told, not re-sent forever
hooks.error.push(function (frame) {
  var item = pendingRatings.filter(function (r) { return r.client_id === frame.client_id; })[0];
  if (!item) {
    return false;
  }
  if (!RATING_RETRIED[frame.code]) {
    dropRating(item);
    return true;
  }
  if (frame.code !== "rate_limited" && frame.code !== "busy") {
    return false;
  }
  var wait = Math.min(3600, Math.max(1, Number(frame.retry_after) || 5));
  setTimeout(function () {
    if (pendingRatings.indexOf(item) >= 0) {
      sendRating(item);
    }
  }, wait * 1000);
  return true;
});

function dropRating(item) {
  pendingRatings.splice(pendingRatings.indexOf(item), 1);
  keepRatings(null, item.client_id);
  var shown = false;
  Object.keys(surveysByMessage).forEach(function (id) {
    var survey = surveysByMessage[id];
    if (survey.frame.survey_id === item.survey_id) {
      survey.chosen = 0; // the buttons may be pressed again
      if (survey.group) {
        Array.prototype.forEach.call(survey.group.querySelectorAll("button"), function (button) {
          button.disabled = false;
          button.setAttribute("aria-pressed", "false");
          button.classList.remove("omr-csat-star--on");
        });
        note(survey.group, say("csat_refused"));
        shown = true;
      }
    }
  });
  if (!shown) {
    showNote(say("csat_refused"));
  }
}

hooks.frame.survey = function (frame) {
  if (typeof frame.message_id !== "string" || typeof frame.survey_id !== "string" ||
      !Array.isArray(frame.labels) || frame.labels.length !== 5) {
    return;
  }
  if (!surveysByMessage[frame.message_id]) {
    var waiting = pendingFor(frame.survey_id); // pressed before a reload, not yet acknowledged
    surveysByMessage[frame.message_id] = { frame: frame, chosen: waiting ? waiting.score : 0, group: null };
  }
  drawSurvey(frame.message_id);
};

// a fresh welcome redraws the thread: the buttons not yet pressed go back under their question
hooks.rendered.push(function () {
  Object.keys(surveysByMessage).forEach(drawSurvey);
});

function drawSurvey(messageId) {
  var survey = surveysByMessage[messageId];
  var question = renderedById[messageId];
  if (!survey || !question || !ui || ui.messages.querySelector('[data-survey="' + survey.frame.survey_id + '"]')) {
    return;
  }
  var group = el("div", "omr-csat", {
    "data-omr": "survey", "data-survey": survey.frame.survey_id, role: "group", "aria-label": say("csat_group"),
  });
  survey.frame.labels.forEach(function (label, index) {
    var score = index + 1;
    var button = el("button", "omr-csat-star", {
      type: "button", "data-score": String(score), "aria-label": String(label), title: String(label),
      "aria-pressed": "false",
    });
    button.appendChild(icon(STAR_ICON, 26));
    var number = el("span", "omr-csat-number", { "aria-hidden": "true" });
    number.textContent = String(score);
    button.appendChild(number);
    button.addEventListener("click", function () { rate(survey, group, score); });
    group.appendChild(button);
  });
  var note = el("div", "omr-csat-note", { "data-omr": "survey-note", role: "status" });
  group.appendChild(note);
  survey.group = group;
  if (survey.chosen) {
    markChosen(group, survey.chosen, pendingFor(survey.frame.survey_id) !== null);
  }
  var list = ui.messages;
  var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  question.parentNode.insertBefore(group, question.nextSibling);
  if (atBottom) {
    list.scrollTop = list.scrollHeight; // the customer reading the end sees the stars, not half of them
  }
}

// one press a survey: kept until acknowledged, sent now if the chat is connected, else on the next welcome
function rate(survey, group, score) {
  if (survey.chosen) {
    return;
  }
  survey.chosen = score;
  var item = { client_id: newClientId(), survey_id: survey.frame.survey_id, score: score };
  pendingRatings.push(item);
  keepRatings(item, null);
  // the pressed star is disabled with the others, which drops the keyboard to the page's <body>:
  // it goes to the message box instead, where a comment is typed next
  var hadFocus = group.contains(document.activeElement);
  markChosen(group, score, !sendRating(item));
  if (hadFocus) {
    ui.input.focus();
  }
}

function markChosen(group, score, offline) {
  Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) {
    var mine = Number(button.getAttribute("data-score"));
    button.disabled = true;
    button.setAttribute("aria-pressed", mine === score ? "true" : "false");
    button.classList.toggle("omr-csat-star--on", mine <= score);
  });
  note(group, offline ? say("csat_offline") : say("csat_thanks", { score: score }));
}

function note(group, text) {
  group.querySelector("[data-omr=survey-note]").textContent = text;
}

hooks.css.push([
  ".omr-csat { align-self: flex-start; display: flex; flex-wrap: wrap; align-items: center; gap: 4px;",
  "  padding: 4px 0; }",
  ".omr-csat-star { position: relative; width: 40px; height: 40px; border: 1px solid #cbd5e0; border-radius: 8px;",
  "  background: #fff; color: #a0aec0; cursor: pointer; display: flex; align-items: center; justify-content: center; }",
  ".omr-csat-star:hover:not(:disabled), .omr-csat-star:focus-visible { color: #d69e2e; outline: 3px solid #90cdf4; }",
  ".omr-csat-star--on { color: #d69e2e; border-color: #d69e2e; }",
  ".omr-csat-star:disabled { cursor: default; }",
  ".omr-csat-number { position: absolute; font-size: 10px; font-weight: 700; color: #1f2430; top: 15px; }",
  ".omr-csat-note { flex-basis: 100%; font-size: 12px; color: #4a5568; }",
  ".omr-csat-note:empty { display: none; }",
].join("\n"));
