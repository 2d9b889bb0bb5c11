/* The call-back view: polls the board's JSON and redraws the three tables (waiting, talking,
 * missed). Missed callers get a "Terugbellen" form with the page's CSRF token. */
(function () {
  "use strict";
  var root = document.getElementById("callback-board");
  if (!root) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var pollMs = parseInt(root.dataset.pollMs, 10) || 2000;

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : text;
    if (cls) { td.className = cls; }
    return td;
  }

  function callBackCell(call) {
    var td = document.createElement("td");
    if (call.called_back) { td.textContent = "teruggebeld " + call.called_back; return td; }
    if (call.withheld) { return td; }
    var form = document.createElement("form");
    form.method = "post";
    form.className = "inline";
    form.action = root.dataset.callBackUrl + "/" + call.id + "/bellen";
    var hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = "csrf_token"; hidden.value = token;
    var button = document.createElement("button");
    button.type = "submit"; button.className = "btn btn-primary call-back"; button.textContent = "Terugbellen";
    form.appendChild(hidden); form.appendChild(button); td.appendChild(form);
    return td;
  }

  function fill(name, calls, columns, emptyText) {
    var body = $(name + "-table").tBodies[0];
    $(name + "-count").textContent = calls.length;
    body.textContent = "";
    if (!calls.length) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = cell(emptyText, "muted"); td.colSpan = $(name + "-table").tHead.rows[0].cells.length;
      tr.appendChild(td); body.appendChild(tr);
      return;
    }
    calls.forEach(function (call) {
      var tr = document.createElement("tr");
      tr.dataset.id = call.id;
      columns(call).forEach(function (td) { tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function render(board) {
    fill("waiting", board.waiting, function (c) {
      return [cell(c.caller), cell(c.participant || "onbekend"), cell(c.action), cell(c.distance, "num"), cell(c.wait, "num")];
    }, "Niemand wacht.");
    fill("talking", board.talking, function (c) {
      return [cell(c.caller), cell(c.participant || "onbekend"), cell(c.action), cell(c.answered_by), cell(c.wait, "num")];
    }, "Geen gesprekken.");
    fill("missed", board.missed, function (c) {
      return [cell(c.received), cell(c.caller), cell(c.participant || "onbekend"), cell(c.action), cell(c.wait, "num"), callBackCell(c)];
    }, "Geen gemiste bellers.");
  }

  function live(ok) {
    $("live-dot").className = "live-dot" + (ok ? "" : " stale");
    $("live-state").textContent = ok ? "live" : "geen verbinding, opnieuw proberen…";
  }

  function poll() {
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (board) { render(board); live(true); })
      .catch(function () { live(false); })
      .then(function () { window.setTimeout(poll, pollMs); });
  }
  poll();
})();
