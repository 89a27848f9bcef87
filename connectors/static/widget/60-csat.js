// ---- satisfaction survey: five labelled star buttons under the question
//
// The server sends {"type":"survey","message_id","survey_id","labels":[5]} right
// after the question's message frame; a press answers with
// {"type":"rating","survey_id","score","client_id"} (acknowledged as a message
// is). The buttons stay drawn until one is pressed, across a fresh welcome
// (they are put back under the question) but not across a reload: the
// customer can always type the number instead.

var STAR_ICON = "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6L2.5 9.4l6.6-.8z";
var surveysByMessage = {}; // question's message id -> {frame, chosen}

hooks.frame.survey = function (frame) {
  if (typeof frame.message_id !== "string" || typeof frame.survey_id !== "string" ||
      !Array.isArray(frame.labels) || frame.labels.length !== 5) {
    return;
  }
  if (!surveysByMessage[frame.message_id]) {
    surveysByMessage[frame.message_id] = { frame: frame, chosen: 0 };
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
  if (survey.chosen) {
    markChosen(group, survey.chosen);
  }
  question.parentNode.insertBefore(group, question.nextSibling);
}

function rate(survey, group, score) {
  if (survey.chosen) {
    return;
  }
  var sent = sendFrame({ type: "rating", survey_id: survey.frame.survey_id, score: score, client_id: newClientId() });
  if (!sent) {
    group.querySelector("[data-omr=survey-note]").textContent = say("csat_offline");
    return;
  }
  survey.chosen = score;
  markChosen(group, score);
}

function markChosen(group, score) {
  Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) {
    var mine = Number(button.getAttribute("data-score"));
    button.disabled = true;
    button.setAttribute("aria-pressed", mine === score ? "true" : "false");
    button.classList.toggle("omr-csat-star--on", mine <= score);
  });
  group.querySelector("[data-omr=survey-note]").textContent = say("csat_thanks", { score: score });
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
