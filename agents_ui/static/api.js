// omnirouter console: the one way every script of the console talks to the
// API. Loaded first (after i18n.js), so each script calls window.consoleApi
// instead of a fetch wrapper of its own: one place for the CSRF rule (every
// write is JSON), one error shape, and one error text (i18n.error).
//   consoleApi.call(method, path, body) -> the JSON answer (null for 204)
//   consoleApi.get(path)
//   consoleApi.explain(err) -> the error in the console's language
//   consoleApi.me() -> {agent, permissions} of /api/me (asked once per sign-in)
//   consoleApi.may(permission), consoleApi.isAdmin() -> what the role may see
// A failure throws an Error with status, code and details (the server's
// error object); its message is already in the console's language. A 401
// (the session ended) is console.js's to act on: it shows the sign-in page.
"use strict";

window.consoleApi = (() => {
  let mine = null; // the promise of /api/me for the agent signed in now

  function explain(err) {
    return window.i18n ? window.i18n.error(err) : (err && err.message) || String(err);
  }

  function failure(resp, data) {
    const error = (data && data.error) || {};
    const err = new Error(error.message || `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    err.code = error.code;
    err.details = error;
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
    const resp = await fetch(path, init);
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) throw failure(resp, data);
    return data;
  }

  const get = (path) => call("GET", path);

  function me() {
    if (!mine) {
      mine = get("/api/me");
      mine.catch(() => { mine = null; }); // asked again next time
    }
    return mine;
  }

  // a new sign-in (or a change of my own role) asks /api/me again
  function forget() {
    mine = null;
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
    if (changed && mine) mine.then((data) => { if (data.agent.id === changed.id) forget(); }, () => {});
  });
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches('[data-testid="login-form"]')) forget();
  }, true);

  return { call, get, explain, me, forget, may, isAdmin };
})();
