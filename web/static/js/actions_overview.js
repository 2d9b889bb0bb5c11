/* Console start page: the running actions and the list of actions refresh themselves.
 * The page is fetched again and its two parts swapped in, so there is one markup (the
 * server's template) for the first view and every refresh. */
(function () {
  "use strict";
  var overview = document.getElementById("running-overview");
  if (!overview || !window.fetch || !window.DOMParser) { return; }
  var interval = parseInt(overview.dataset.intervalMs, 10) || 3000;
  var url = overview.dataset.refreshUrl;
  var busy = false;

  function swap(id, fresh) {
    var current = document.getElementById(id);
    var next = fresh.getElementById(id);
    if (!current || !next) { return; }
    // Keep what the keyboard is on: a part that holds the focus waits for the next round.
    if (current.contains(document.activeElement) && document.activeElement !== document.body) { return; }
    if (current.innerHTML !== next.innerHTML) { current.innerHTML = next.innerHTML; }
  }

  function state(text) {
    var el = document.getElementById("overview-state");
    if (el) { el.textContent = text; }
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { window.location.reload(); return null; }
        if (!r.ok) { throw new Error(r.status); }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        swap("running-overview", fresh);
        swap("actions-list", fresh);
        state("bijgewerkt " + new Date().toLocaleTimeString("nl-NL"));
      })
      .catch(function () { state("geen verbinding"); })
      .then(function () { busy = false; });
  }

  setInterval(refresh, interval);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
})();
