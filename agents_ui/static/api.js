// omnirouter console: the one way every script of the console talks to the
// API. Loaded first (after i18n.js), so each script calls window.consoleApi
// instead of a fetch wrapper of its own: one place for the CSRF rule (every
// write is JSON), one error shape, and one error text (i18n.error).
//   consoleApi.call(method, path, body) -> the JSON answer (null for 204)
//   consoleApi.get(path)
//   consoleApi.explain(err) -> the error in the console's language
//   consoleApi.me() -> {agent, permissions} of /api/me (asked once per sign-in)
//   consoleApi.may(permission), consoleApi.isAdmin() -> what the role may see
// When the signed-in agent's own account changes (agent.updated), the cache is
// dropped at once and, once /api/me answered again, a "console:permissions"
// DOM event (detail: {agent, permissions}) tells every script to redraw what
// the role may see: scripts listen to that, never to agent.updated for rights.
// A failure throws an Error with status, code and details (the server's
// error object); its message is already in the console's language. A 401
// (the session ended) is console.js's to act on: it shows the sign-in page.
"use strict";

window.consoleApi = (() => {
  let mine = null; // the promise of /api/me for the agent signed in now
  let mineId = null; // whose it is, known synchronously once it answered

  function explain(err) {
    return window.i18n ? window.i18n.error(err) : (err && err.message) || String(err);
  }

  function failure(resp, data) {
    const error = (data && data.error) || {};
    const err = new Error(error.message || `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    // an answer that is not ours (a proxy's 502 page) has no code: the catalogue's "unknown" text
    err.code = error.code || (data && data.error ? undefined : "unknown");
    err.details = error;
    err.message = explain(err);
    return err;
  }

  function offline(cause) {
    const err = new Error((cause && cause.message) || "network");
    err.status = 0;
    err.code = "network";
    err.details = {};
    err.message = explain(err);
    return err;
  }

  async function call(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      // every write is JSON, also without a body: the server refuses anything else (CSRF)
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body === undefined || body === null ? {} : body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (cause) {
      throw offline(cause); // no answer at all: the network or the server is down
    }
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) throw failure(resp, data);
    return data;
  }

  const get = (path) => call("GET", path);

  function me() {
    if (!mine) {
      const asked = get("/api/me");
      mine = asked;
      asked.then((data) => { if (mine === asked) mineId = data.agent.id; },
        () => { if (mine === asked) mine = null; }); // asked again next time
    }
    return mine;
  }

  // a new sign-in (or a change of my own role) asks /api/me again
  function forget() {
    mine = null;
    mineId = null;
  }

  // my own account changed: drop my rights now (before any other listener of the same event reads
  // them), ask again, then tell every script
  async function refresh() {
    forget();
    const data = await me();
    document.dispatchEvent(new CustomEvent("console:permissions", { detail: data }));
  }

  async function may(permission) {
    const data = await me();
    return (data.permissions || []).includes(permission);
  }

  async function isAdmin() {
    return (await me()).agent.role === "admin";
  }

  document.addEventListener("console:event", (event) => {
    const e = event.detail || {};
    const changed = e.type === "agent.updated" && e.data && e.data.agent;
    if (changed && mineId !== null && changed.id === mineId) refresh().catch(() => {});
  });
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches('[data-testid="login-form"]')) forget();
  }, true);

  return { call, get, explain, me, forget, may, isAdmin };
})();
