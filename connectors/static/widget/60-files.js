// ---- files (connectors/webchat_files.py): the visitor attaches one with the
// paperclip; it is uploaded to /chat/files with its progress shown, and is a
// message of its own. Files in messages show as links, images inline.

var FILES_URL = new URL("files", script && script.src ? script.src : new URL("/chat/widget.js", location.href).href);
// a paperclip, drawn as a stroke
var CLIP_ICON = "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48";
var fileLimit = null; // bytes, once the server said
var waitingFiles = []; // chosen before the chat was welcomed

hooks.css.push([
  ".omr-attach { border: 0; background: transparent; color: #4a5568; cursor: pointer; padding: 0 4px;",
  "  display: flex; align-items: center; }",
  ".omr-attach:focus-visible { outline: 3px solid #90cdf4; border-radius: 6px; }",
  ".omr-attach svg path { fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round;",
  "  stroke-linejoin: round; }",
  ".omr-files { display: flex; flex-direction: column; gap: 4px; margin-top: 4px; }",
  ".omr-file { color: inherit; text-decoration: underline; overflow-wrap: anywhere; }",
  ".omr-file img { display: block; max-width: 100%; max-height: 200px; border-radius: 6px; }",
  ".omr-upload-state { display: block; font-size: 11px; opacity: .85; }",
  ".omr-msg--failed { background: #fff5f5; border-color: #feb2b2; color: #c53030; }",
].join("\n"));

hooks.ui.push(function (ui) {
  var input = el("input", "", { type: "file", hidden: "", "data-omr": "attach-input" });
  var button = el("button", "omr-attach", { type: "button", "data-omr": "attach", "aria-label": say("file_attach"),
    title: say("file_attach") });
  var clip = icon(CLIP_ICON, 20);
  button.appendChild(clip);
  button.addEventListener("click", function () { input.click(); });
  input.addEventListener("change", function () {
    Array.prototype.forEach.call(input.files, chooseFile);
    input.value = "";
  });
  ui.form.insertBefore(button, ui.form.firstChild);
  ui.form.appendChild(input);
  // a file dragged onto the chat is sent as if chosen with the paperclip: left to the browser,
  // the drop opened the file in the tab in place of the shop, and the conversation with it
  ui.panel.addEventListener("dragover", function (ev) {
    if (carriesFiles(ev)) {
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
    }
  });
  ui.panel.addEventListener("drop", function (ev) {
    if (carriesFiles(ev)) {
      ev.preventDefault();
      Array.prototype.forEach.call(ev.dataTransfer.files, chooseFile);
    }
  });
});

function carriesFiles(ev) {
  return !!ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types || [], "Files") >= 0;
}

// a message's files: images inline, everything else a link that downloads
hooks.message.push(function (node, frame) {
  if (!Array.isArray(frame.files) || !frame.files.length) {
    return;
  }
  var box = el("div", "omr-files");
  frame.files.forEach(function (file) {
    if (!file || typeof file.url !== "string") {
      return;
    }
    var href = new URL(file.url, FILES_URL).href;
    var link = el("a", "omr-file", { href: href, target: "_blank", rel: "noopener noreferrer", "data-omr": "file" });
    if (file.image) {
      var img = el("img", "", { src: href, alt: String(file.name || ""), loading: "lazy" });
      link.appendChild(img);
    } else {
      link.setAttribute("download", String(file.name || ""));
      link.textContent = String(file.name || say("file_download"));
    }
    box.appendChild(link);
  });
  node.appendChild(box);
});

hooks.welcome.push(function () {
  waitingFiles.splice(0).forEach(function (item) { upload(item); });
});

// The bubbles of the files chosen in this page that are no stored message (yet): uploading, waiting
// or refused. A redraw of the thread (a welcome, which may come just after a file was chosen as the
// chat opened) draws them again after the history: it wiped them, and with them why a file failed.
var fileBubbles = [];
hooks.rendered.push(function () {
  fileBubbles = fileBubbles.filter(function (bubble) { return !bubble.done; });
  fileBubbles.forEach(function (bubble) { appendEl(bubble.node); });
});

function fileBubble(name) {
  var node = messageEl("customer", name, new Date().toISOString());
  node.classList.add("omr-msg--pending");
  node.setAttribute("data-omr", "upload");
  var line = el("span", "omr-upload-state", { "data-omr": "upload-state" });
  node.appendChild(line);
  appendEl(node);
  var bubble = { node: node, line: line, done: false };
  fileBubbles.push(bubble);
  return bubble;
}

function uploadFailed(item, text) {
  item.bubble.node.classList.remove("omr-msg--pending");
  item.bubble.node.classList.add("omr-msg--failed");
  item.bubble.line.textContent = text;
}

function chooseFile(file) {
  var item = { file: file, clientId: newClientId(), bubble: fileBubble(file.name) };
  whenReady(start);
  limit(function (max) {
    if (!file.size) {
      // no bytes (a download that failed): said so, not as a type we refuse
      uploadFailed(item, say("file_empty"));
    } else if (max && file.size > max) {
      // said before a byte is sent: the server would refuse it all the same
      // the visitor's own decimal mark: «19,5 МБ», "19.5 MB"
      var limit = Math.floor((max / 1048576) * 10) / 10;
      uploadFailed(item, say("file_too_large", { limit_mb: limit }));
    } else if (state.visitorId && state.welcomed) {
      upload(item);
    } else {
      item.bubble.line.textContent = say("connecting");
      waitingFiles.push(item);
    }
  });
}

function limit(then) {
  if (fileLimit !== null) {
    then(fileLimit);
    return;
  }
  var xhr = new XMLHttpRequest();
  xhr.open("GET", FILES_URL.href);
  xhr.responseType = "json";
  xhr.onload = function () {
    fileLimit = xhr.response && typeof xhr.response.max_bytes === "number" ? xhr.response.max_bytes : 0;
    then(fileLimit);
  };
  xhr.onerror = function () { then(0); };
  xhr.send();
}

var UPLOAD_ERRORS = {
  file_too_large: "file_too_large", file_type_forged: "file_forged", file_type_not_allowed: "file_not_allowed",
  files_over_budget: "file_budget",
};
// refused for now, as a typed message is (30-connection.js, REFUSED_FOR_NOW): the file is still in the
// page, so it goes again by itself after what the server said, and the note says so
// uploads whose connection broke, in a row, before the file is said to have failed (~1.5 min with the waits)
var BROKEN_TRIES = 8;
var UPLOAD_LATER = { unavailable: "file_unavailable", busy: "file_overloaded", rate_limited: "file_busy" };

function upload(item) {
  var xhr = new XMLHttpRequest();
  xhr.open("POST", FILES_URL.href);
  xhr.responseType = "json";
  item.bubble.line.textContent = say("file_uploading", { percent: 0 });
  xhr.upload.onprogress = function (ev) {
    if (ev.lengthComputable) {
      item.bubble.line.textContent = say("file_uploading", { percent: Math.floor((ev.loaded / ev.total) * 100) });
    }
  };
  xhr.onload = function () {
    var body = xhr.response || {};
    if (xhr.status === 201 && body.message) {
      item.bubble.done = true; // the stored message stands for it now
      item.bubble.node.remove();
      renderMessage(body.message); // unless its echo over the socket came first
      return;
    }
    var error = body.error || {};
    if ((xhr.status === 503 || xhr.status === 429) && UPLOAD_LATER[error.code]) {
      uploadLater(item, Number(error.retry_after) || Number(xhr.getResponseHeader("Retry-After")) || 5,
        UPLOAD_LATER[error.code]);
      return;
    }
    var key = UPLOAD_ERRORS[error.code] || "file_failed";
    uploadFailed(item, say(key, { limit_mb: Math.floor(((error.limit || 0) / 1048576) * 10) / 10,
      type: error.type || "", n: error.retry_after || "", minutes: error.minutes || "" }));
  };
  xhr.onerror = function () {
    // the connection broke mid-upload (a train's tunnel): the file goes again (the same client_id: stored
    // once), a few times, before it is said to have failed
    item.broken = (item.broken || 0) + 1;
    if (item.broken > BROKEN_TRIES) {
      uploadFailed(item, say("file_failed"));
      return;
    }
    uploadLater(item, 1, "file_offline");
  };
  var data = new FormData();
  data.append("visitor_id", state.visitorId);
  data.append("client_id", item.clientId);
  data.append("file", item.file, item.file.name);
  xhr.send(data);
}

// The service did not take the file for now (its store or disk down, busy, or too many messages at once;
// with Retry-After): it is still in the page, so it goes again by itself (the same client_id: stored once)
// after what the server said, longer each time in a row and with jitter, as a refused message does
// (30-connection.js, holdBack). ``note``: the catalogue's words for why.
function uploadLater(item, saidSeconds, note) {
  item.tries = (item.tries || 0) + 1;
  var said = Math.min(3600, Math.max(1, saidSeconds)) * 1000;
  var base = Math.max(said, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, item.tries - 1)));
  var wait = base + Math.random() * (base / 2);
  item.bubble.line.textContent = say(note, { n: Math.ceil(wait / 1000) });
  setTimeout(function () { upload(item); }, wait);
}
