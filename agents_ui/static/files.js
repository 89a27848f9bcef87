// omnirouter console: files. An attach button in the composer: each chosen
// file is uploaded at once (POST /api/files, with its progress), shown as a
// chip that can be removed, and the reply carries their ids (console.js asks
// window.composerFiles). Images show inline in the thread (message_parts.js).
// Every text through t() and textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // a paperclip, drawn: no emoji (an empty box where no emoji font is installed)
  const CLIP = "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48";
  const items = [];
  let limits = null;

  const tr = (key, vars) => window.t(key, vars);

  function icon(path) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS(SVG, "path");
    line.setAttribute("d", path);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "currentColor");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-linecap", "round");
    line.setAttribute("stroke-linejoin", "round");
    svg.append(line);
    return svg;
  }

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = String(text);
    return n;
  }

  function errorText(code, details, fallback) {
    // the catalogue's words for the server's code, with its details as variables; else the server's
    return window.i18n.error({ code, details, message: fallback || tr("files.failed") });
  }

  async function loadLimits() {
    if (limits) return limits;
    limits = await window.consoleApi.get("/api/file-limits").catch(() => null);
    return limits;
  }

  function setStatus(item, text, kind) {
    item.status.textContent = text;
    item.chip.dataset.state = kind;
  }

  function remove(item) {
    if (item.xhr && item.state === "uploading") item.xhr.abort();
    const at = items.indexOf(item);
    if (at >= 0) items.splice(at, 1);
    item.chip.remove();
  }

  function chip(file) {
    const li = node("li", "file-chip");
    li.dataset.testid = "composer-file";
    const name = node("span", "file-name", file.name);
    const status = node("span", "file-status");
    status.dataset.testid = "composer-file-status";
    const drop = node("button", "btn ghost file-remove", "×");
    drop.type = "button";
    drop.setAttribute("aria-label", tr("files.remove", { name: file.name }));
    li.append(name, status, drop);
    return { li, status, drop };
  }

  async function add(file, list) {
    const parts = chip(file);
    const item = { name: file.name, id: null, state: "checking", chip: parts.li, status: parts.status, xhr: null };
    parts.drop.addEventListener("click", () => remove(item));
    items.push(item);
    list.append(parts.li);
    const known = await loadLimits().catch(() => null);
    if (known && file.size > known.max_bytes) {
      // said before a byte is sent: the server would refuse it (413) all the same
      item.state = "failed";
      const mb = Math.floor((known.max_bytes / 1048576) * 10) / 10;
      setStatus(item, errorText("file_too_large", { limit: known.max_bytes, limit_mb: mb }), "failed");
      return;
    }
    upload(item, file);
  }

  function upload(item, file) {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    item.state = "uploading";
    setStatus(item, tr("files.uploading", { percent: 0 }), "uploading");
    xhr.open("POST", "/api/files");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) setStatus(item, tr("files.uploading", { percent: Math.floor((e.loaded / e.total) * 100) }), "uploading");
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status === 201 && body.file) {
        item.id = body.file.id;
        item.state = "ready";
        setStatus(item, tr("files.ready"), "ready");
        return;
      }
      const error = body.error || {};
      item.state = "failed";
      setStatus(item, errorText(error.code, error, error.message), "failed");
    });
    xhr.addEventListener("error", () => {
      item.state = "failed";
      setStatus(item, tr("files.failed"), "failed");
    });
    const data = new FormData();
    data.append("file", file, file.name);
    xhr.send(data);
  }

  // in Note mode a file is refused, said where the composer's errors are
  function refusedInNote() {
    if (!(window.notes && window.notes.isNoteMode())) return false;
    const error = document.getElementById("reply-error");
    if (error) error.textContent = tr("files.not_in_note");
    return true;
  }

  function build() {
    const form = document.getElementById("reply-form");
    const bar = form && form.querySelector(".composer-bar");
    if (!bar) return;
    const input = node("input");
    input.type = "file";
    input.multiple = true;
    input.hidden = true;
    input.dataset.testid = "attach-input";
    const button = node("button", "btn ghost attach");
    button.type = "button";
    button.dataset.testid = "attach";
    // translated with the page (its catalogue may still be loading now)
    button.dataset.i18nAttr = "aria-label:files.attach;title:files.attach";
    button.append(icon(CLIP));
    const list = node("ul", "composer-files");
    list.dataset.testid = "composer-files";
    button.addEventListener("click", () => {
      if (!refusedInNote()) input.click();
    });
    input.addEventListener("change", () => {
      // a note carries no file: one picked for it would go out with the next reply to the customer
      if (!refusedInNote()) [...input.files].forEach((file) => add(file, list));
      input.value = "";
    });
    // a file picked for one customer never goes out to another's conversation
    document.addEventListener("conversation:selected", () => [...items].forEach(remove));
    bar.prepend(input, button);
    form.insertBefore(list, bar);
  }

  window.composerFiles = {
    // the uploaded files' ids, for the reply
    ids: () => items.filter((i) => i.state === "ready").map((i) => i.id),
    // a reply waits while a file is still on its way
    busy: () => items.some((i) => i.state === "uploading" || i.state === "checking"),
    clear: () => [...items].forEach(remove),
  };

  // a stored file in the thread: an image inline, anything else a download link
  // (messageId: the message it is shown in, which lets another agent's file be served)
  window.storedFileNode = function (attachment, messageId) {
    const href = `/api/files/${encodeURIComponent(attachment.file)}`
      + (messageId ? `?message=${encodeURIComponent(messageId)}` : "");
    const link = node("a", "attachment stored-file");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.dataset.testid = "attachment";
    if (attachment.kind === "image") {
      const img = node("img", "attachment-image");
      img.src = href;
      img.alt = attachment.name || "";
      img.loading = "lazy";
      link.append(img);
    } else {
      link.download = attachment.name || "";
      link.append(icon(CLIP), node("span", "", attachment.name || tr("files.download")));
    }
    return link;
  };

  document.addEventListener("DOMContentLoaded", build);
})();
