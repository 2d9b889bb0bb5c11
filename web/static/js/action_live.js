/* Live action page: map with the circle, counts by state and channel, sightings inbox.
 * Updates arrive as server-sent events; if the stream breaks the page polls the JSON. */
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var STATES = [
    ["queued", "in wachtrij"], ["held", "wacht (nachtrust)"], ["dialing", "wordt gekozen"],
    ["ringing", "gaat over"], ["answered", "opgenomen"], ["completed", "afgerond"],
    ["leaving_message", "inspreken op voicemail"], ["machine", "voicemail"],
    ["busy", "in gesprek"], ["no_answer", "geen antwoord"], ["failed", "mislukt"],
    ["sending", "wordt verstuurd"], ["sent", "verzonden"], ["delivered", "afgeleverd"],
    ["cancelled", "geannuleerd"], ["opted_out", "afgemeld"]
  ];
  var CHANNELS = ["voice", "sms", "email"];
  var TRANSFER_RESULTS = { NOANSWER: "geen gehoor", BUSY: "in gesprek", CONGESTION: "lijn bezet",
    CHANUNAVAIL: "niet bereikbaar", FAILED: "mislukt", "no-answer": "geen gehoor", busy: "in gesprek",
    failed: "mislukt" };

  // --- map -------------------------------------------------------------------------------
  var lat = parseFloat(root.dataset.lat), lon = parseFloat(root.dataset.lon), radius = parseFloat(root.dataset.radius);
  if (window.L) {
    var map = L.map("map", { zoomControl: false, attributionControl: !!root.dataset.tiles }).setView([lat, lon], 13);
    window.BurgernetMap.addZoom(map);
    if (root.dataset.tiles) {
      L.tileLayer(root.dataset.tiles, { maxZoom: 19, attribution: root.dataset.attribution }).addTo(map);
    } else { $("map").classList.add("map-blank"); }
    L.control.scale({ imperial: false }).addTo(map);
    L.marker([lat, lon], { keyboard: false }).addTo(map);
    var circle = L.circle([lat, lon], { radius: radius, color: "#a8261d", weight: 2, fillColor: "#a8261d", fillOpacity: 0.08 }).addTo(map);
    map.fitBounds(circle.getBounds(), { padding: [20, 20] });
  }

  function formatDuration(s) {
    if (s === null || s === undefined) { return "—"; }
    s = Math.round(s);
    if (s < 60) { return s + " s"; }
    var m = Math.floor(s / 60), r = s % 60;
    if (m < 60) { return m + " min " + (r < 10 ? "0" : "") + r + " s"; }
    return Math.floor(m / 60) + " u " + (m % 60) + " min";
  }

  function formatTime(iso) {
    var d = new Date(iso);
    // In the control room's zone (base.html's data-timezone), as the pages write it, not the
    // browser's own.
    var zone = document.documentElement.dataset.timezone || undefined;
    return isNaN(d) ? iso : d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone });
  }

  // --- figures -----------------------------------------------------------------------------
  function renderProgress(snap) {
    var p = snap.progress, f = snap.figures;
    $("f-recipients").textContent = p.total;
    $("f-reached").textContent = p.reached;
    $("f-answered").textContent = f.answered;
    $("f-acknowledged").textContent = p.acknowledged;
    $("f-cpm").textContent = p.calls_per_minute;
    $("f-eta").textContent = snap.status === "running" ? formatDuration(p.estimated_seconds_left) : "—";
    $("f-sightings").textContent = f.sightings;
    if (f.first_sighting_s !== null && f.first_sighting_s !== undefined) {
      $("first-sighting").textContent = "Eerste melding na " + formatDuration(f.first_sighting_s) + ".";
    }
    var outcome = p.outcome_by_state || {}, planned = 0, done = 0;
    Object.keys(outcome).forEach(function (k) {
      planned += outcome[k];
      if (["completed", "machine", "sent", "delivered"].indexOf(k) >= 0) { done += outcome[k]; }
    });
    $("outcome-messages").textContent = planned ? "Afloopbericht: " + done + " van " + planned + " verstuurd of afgeleverd." : "";
    var body = document.querySelector("#state-table tbody");
    var rows = [];
    STATES.forEach(function (pair) {
      var total = p.by_state[pair[0]] || 0;
      if (!total) { return; }
      var tr = document.createElement("tr");
      tr.dataset.state = pair[0];
      var th = document.createElement("td");
      th.textContent = pair[1];
      tr.appendChild(th);
      CHANNELS.forEach(function (c) {
        var td = document.createElement("td");
        td.className = "num";
        td.textContent = (p.by_channel[c] && p.by_channel[c][pair[0]]) || 0;
        tr.appendChild(td);
      });
      var tt = document.createElement("td");
      tt.className = "num";
      tt.textContent = total;
      tr.appendChild(tt);
      rows.push(tr);
    });
    body.replaceChildren.apply(body, rows);
    var badge = $("status-badge");
    var label = { running: "loopt", ended: "beëindigd", draft: "concept" }[snap.status] || snap.status;
    if (badge.textContent !== label) {
      badge.textContent = label;
      badge.className = "badge badge-" + snap.status;
      if (snap.status === "ended" && root.dataset.status === "running") { window.location.reload(); }
    }
  }

  // --- how the trunk's lines are shared with the other running actions -----------------------
  var sharingBox = $("sharing");
  var incidents = JSON.parse(sharingBox.dataset.incidents || "{}");
  var minShare = parseFloat(sharingBox.dataset.minShare) || 0;
  var thisAction = parseInt(sharingBox.dataset.actionId, 10);

  function percent(x) { return Math.round(x * 100) + "%"; }

  function localClock(iso) {
    var d = new Date(iso);
    try {
      return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: sharingBox.dataset.timezone });
    } catch (e) { return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit" }); }
  }

  function renderSharing(snap) {
    var p = snap.progress, list = p.sharing || [];
    var basis = { measured: "Schatting naar het tempo van de laatste minuut (" + p.calls_per_minute + " oproepen).",
      share: "Schatting naar de capaciteit van de lijnen" + (list.length > 1 && p.share !== null ? " en het aandeel van deze actie (" + percent(p.share) + ")." : "."),
      night_rest: "Nachtrust: spraakoproepen wachten tot " + (p.resumes_at ? localClock(p.resumes_at) : "het einde van de nacht") + "; de schatting telt die wachttijd mee." }[p.estimate_basis] || "";
    $("eta-basis").textContent = snap.status === "running" ? basis : "";
    var table = $("sharing-table"), summary = $("sharing-summary");
    if (snap.status !== "running" || !list.length) { summary.textContent = ""; table.hidden = true; return; }
    var others = list.filter(function (item) { return item.action_id !== thisAction; });
    if (!others.length) {
      summary.textContent = "Deze actie heeft alle lijnen: er belt nu geen andere actie.";
      table.hidden = true;
      return;
    }
    summary.textContent = "De lijnen worden gedeeld met " + others.length + (others.length === 1 ? " andere actie" : " andere acties") +
      ", naar prioriteit van het incident; elke actie met oproepen in de wachtrij krijgt minstens " + percent(minShare) + ".";
    var rows = list.map(function (item) {
      var tr = document.createElement("tr");
      tr.dataset.actionId = item.action_id;
      var name = document.createElement("td");
      if (item.action_id === thisAction) {
        name.textContent = "Deze actie";
        name.className = "this";
      } else if (item.own_control_room) {
        var a = document.createElement("a");
        a.href = sharingBox.dataset.actionUrl.replace(/0$/, String(item.action_id));
        a.textContent = "Actie " + item.action_id + ": " + (incidents[item.incident_type] || item.incident_type);
        name.appendChild(a);
      } else {
        name.textContent = "Actie van een andere meldkamer";
      }
      if (item.kind === "outcome") { name.appendChild(document.createTextNode(" (afloopbericht)")); }
      tr.appendChild(name);
      [item.share === null ? "rondt af" : percent(item.share), item.lines, item.waiting].forEach(function (v) {
        var td = document.createElement("td");
        td.className = "num";
        td.textContent = v;
        tr.appendChild(td);
      });
      return tr;
    });
    var body = table.querySelector("tbody");
    body.replaceChildren.apply(body, rows);
    table.hidden = false;
  }

  // --- sightings ---------------------------------------------------------------------------
  var shown = {};
  var template = $("sighting-template");

  function renderSightings(list) {
    var container = $("sightings");
    var open = 0;
    list.forEach(function (s) { if (!s.handled) { open += 1; } });
    $("sightings-open").textContent = list.length ? "(" + open + " open van " + list.length + ")" : "";
    $("no-sightings").classList.toggle("hidden", list.length > 0);
    // newest first; existing cards are updated in place so a playing recording keeps playing
    for (var i = list.length - 1; i >= 0; i--) {
      var s = list[i];
      var card = shown[s.id];
      if (!card) {
        card = template.content.firstElementChild.cloneNode(true);
        card.dataset.sightingId = s.id;
        card.querySelector(".s-time").textContent = formatTime(s.received_at);
        card.querySelector(".s-caller").textContent = "Beller: " + s.caller;
        card.querySelector(".s-participant").textContent = s.participant_id ? "deelnemer" + (s.participant_name ? " (" + s.participant_name + ")" : "") : "geen deelnemer";
        card.querySelector(".s-distance").textContent = (s.distance_m !== null && s.distance_m !== undefined) ? "afstand " + Math.round(s.distance_m) + " m" : "afstand onbekend";
        card.querySelector(".s-transfer").textContent = s.transferred ? "doorverbonden met de meldkamer" :
          (s.transfer_result ? "niet doorverbonden (" + (TRANSFER_RESULTS[s.transfer_result] || s.transfer_result.toLowerCase()) + ")" : "");
        if (s.simulated) { card.querySelector(".s-simulated").classList.remove("hidden"); }
        var audio = card.querySelector(".s-audio");
        if (s.audio_url) { audio.src = s.audio_url; } else { audio.remove(); card.querySelector(".s-noaudio").classList.remove("hidden"); }
        if (s.recording_note) {
          var note = card.querySelector(".s-recording");
          note.textContent = s.recording_note;
          note.classList.remove("hidden");
          if (!s.audio_url) { card.querySelector(".s-noaudio").classList.add("hidden"); }
        }
        var handleForm = card.querySelector(".s-handle");
        handleForm.action = s.handle_url;
        handleForm.addEventListener("submit", handleSighting);
        container.insertBefore(card, container.firstChild);
        shown[s.id] = card;
      }
      card.classList.toggle("handled", !!s.handled);
      card.querySelector(".s-note").textContent = s.handled ? "Afgehandeld" + (s.handled_by ? " door " + s.handled_by : "") + (s.note ? ": " + s.note : "") : "";
      card.querySelector(".s-handle").classList.toggle("hidden", !!s.handled);
    }
  }

  // Marking handled without leaving the page, so a recording that is playing keeps playing.
  function handleSighting(e) {
    e.preventDefault();
    var form = e.target;
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); }
      return r.json();
    }).then(function (data) {
      button.disabled = false;
      if (!data.ok) { window.alert(Object.values(data.errors).join(" ")); return; }
      poll();
    }).catch(function () { button.disabled = false; form.submit(); });
  }

  // --- changes (vervolgberichten, cirkels) ------------------------------------------------------
  // A change made meanwhile (by someone else) is added; an update's progress is kept current.
  function renderRevisions(list) {
    var history = $("revision-history");
    if (!history || !list) { return; }
    list.forEach(function (r) {
      var item = history.querySelector('li[data-revision="' + r.number + '"]');
      if (!item) {
        item = document.createElement("li");
        item.dataset.revision = r.number;
        var head = document.createElement("strong");
        head.textContent = formatTime(r.at) + " — " + r.what;
        var text = document.createElement("span");
        text.className = "r-text";
        text.textContent = r.text;
        var progress = document.createElement("span");
        progress.className = "r-progress muted";
        item.append(head, text, " ", progress);
        history.appendChild(item);
      }
      item.querySelector(".r-progress").textContent = r.progress ? "(" + r.progress + ")" : "";
    });
    history.hidden = list.length === 0;
    $("no-revisions").hidden = list.length > 0;
  }

  function render(snap) {
    renderProgress(snap);
    renderSharing(snap);
    renderSightings(snap.sightings);
    renderRevisions(snap.revisions);
    $("backend-banner").hidden = !snap.backend_unreachable;
  }

  // --- transport ---------------------------------------------------------------------------
  function setLive(ok, text) {
    $("live-dot").classList.toggle("stale", !ok);
    $("live-state").textContent = text;
  }

  var pollTimer = null;
  function poll() {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (r.status === 401 || r.redirected) { window.location.reload(); } return r.json(); })
      .then(function (snap) { render(snap); setLive(true, "bijgewerkt " + new Date().toLocaleTimeString("nl-NL")); })
      .catch(function () { setLive(false, "geen verbinding"); });
  }

  if (window.EventSource) {
    var source = new EventSource(root.dataset.eventsUrl);
    source.addEventListener("progress", function (e) {
      render(JSON.parse(e.data));
      setLive(true, "live · " + new Date().toLocaleTimeString("nl-NL"));
    });
    // The server ends each stream after a few seconds on purpose ("reconnect"); the browser
    // reconnects by itself and resumes from the last snapshot's id.
    var planned = false;
    source.addEventListener("reconnect", function () { planned = true; });
    source.onopen = function () { planned = false; };
    source.onerror = function () {
      if (planned && source.readyState === EventSource.CONNECTING) { return; }
      setLive(false, "verbinding herstellen…");
      // closed for good (session expired, action ended): one poll shows why, or reloads to log in
      if (source.readyState === EventSource.CLOSED || root.dataset.status !== "running") { source.close(); poll(); }
    };
  } else {
    poll();
    pollTimer = setInterval(poll, 3000);
  }

  // --- ending: preview the outcome message ----------------------------------------------------
  var endForm = $("end-form");
  if (endForm) {
    var csrf = document.querySelector('meta[name="csrf-token"]').content;
    var t = null;
    var update = function () {
      clearTimeout(t);
      t = setTimeout(function () {
        fetch(endForm.dataset.previewUrl, {
          method: "POST", body: new URLSearchParams(new FormData(endForm)), credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
        }).then(function (r) { return r.json(); }).then(function (data) {
          var box = $("outcome-preview"), err = $("outcome-error");
          if (data.ok) {
            box.textContent = data.display_text;
            box.classList.remove("hidden");
            err.classList.add("hidden");
          } else {
            box.classList.add("hidden");
            var msgs = Object.values(data.errors || {}).filter(function (m) { return m; });
            err.textContent = endForm.elements.outcome.value ? msgs.join(" ") : "";
            err.classList.toggle("hidden", !err.textContent);
          }
        });
      }, 300);
    };
    endForm.addEventListener("change", update);
    endForm.addEventListener("input", update);
    endForm.addEventListener("submit", function (e) {
      var choice = endForm.elements.outcome;
      if (!choice.value) { return; }
      var label = choice.options[choice.selectedIndex].text;
      if (!window.confirm("Actie beëindigen met afloop \u201c" + label + "\u201d? Wat nog in de wachtrij staat wordt geannuleerd en iedereen die is bereikt krijgt het afloopbericht.")) {
        e.preventDefault();
      }
    });
  }
})();
