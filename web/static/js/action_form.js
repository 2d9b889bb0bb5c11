/* New-action form: incident type switches the description fields, the map picks the point and
 * draws the circle, and a debounced preview shows message, SMS length, counts and duration.
 * No inline scripts (CSP): configuration comes from data- attributes on the form. */
(function () {
  "use strict";
  var form = document.getElementById("action-form");
  if (!form) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var radiusDefaults = JSON.parse(form.dataset.radiusDefaults || "{}");
  var consentTypes = (form.dataset.consentTypes || "").split(",");
  var field = function (name) { return form.elements.namedItem(name); };
  var radiusTouched = !!field("radius_m").value;
  var $ = function (id) { return document.getElementById(id); };

  // --- map -------------------------------------------------------------------------------
  var center = [parseFloat(form.dataset.centerLat), parseFloat(form.dataset.centerLon)];
  var map = null, marker = null, circle = null;
  if (window.L) {
    map = L.map("map", { zoomControl: false, attributionControl: !!form.dataset.tiles }).setView(center, 13);
    window.BurgernetMap.addZoom(map);
    if (form.dataset.tiles) {
      L.tileLayer(form.dataset.tiles, { maxZoom: 19, attribution: form.dataset.attribution }).addTo(map);
    } else {
      $("map").classList.add("map-blank");
    }
    L.control.scale({ imperial: false }).addTo(map);
    map.on("click", function (e) {
      setPoint(e.latlng.lat, e.latlng.lng, "Kaartpunt " + e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5), true);
    });
  } else {
    $("map-status").textContent = "De kaart kon niet worden geladen; vul een adres of coördinaten in.";
  }

  function drawCircle() {
    if (!map) { return; }
    var lat = parseFloat(field("lat").value.replace(",", "."));
    var lon = parseFloat(field("lon").value.replace(",", "."));
    var radius = parseFloat(field("radius_m").value);
    if (isNaN(lat) || isNaN(lon)) { return; }
    if (!marker) { marker = L.marker([lat, lon], { keyboard: false }).addTo(map); } else { marker.setLatLng([lat, lon]); }
    if (!isNaN(radius) && radius > 0) {
      if (!circle) {
        circle = L.circle([lat, lon], { radius: radius, color: "#a8261d", weight: 2, fillColor: "#a8261d", fillOpacity: 0.08 }).addTo(map);
      } else { circle.setLatLng([lat, lon]); circle.setRadius(radius); }
    }
  }

  function fitCircle() {
    if (map && circle) { map.fitBounds(circle.getBounds(), { padding: [20, 20] }); }
  }

  function setPoint(lat, lon, label, fromMap) {
    field("lat").value = lat.toFixed(6);
    field("lon").value = lon.toFixed(6);
    if (label && (fromMap || !field("location_label").value || field("location_label").value.indexOf("Kaartpunt") === 0)) {
      field("location_label").value = label;
    }
    if (fromMap) { field("postcode").value = ""; field("house_number").value = ""; field("addition").value = ""; }
    drawCircle();
    if (!fromMap) { fitCircle(); }
    schedulePreview();
  }

  // --- incident type -----------------------------------------------------------------------
  function currentType() {
    var checked = form.querySelector('input[name="incident_type"]:checked');
    return checked ? checked.value : "";
  }

  function showType() {
    var type = currentType();
    form.querySelectorAll(".description-set").forEach(function (set) {
      var on = set.dataset.incident === type;
      set.hidden = !on;
      set.querySelectorAll("input,select,textarea").forEach(function (el) { el.disabled = !on; });
    });
    $("pick-type-hint").hidden = !!type;
    form.querySelectorAll(".norm").forEach(function (el) {
      if (el.dataset.norm === "family_consent") { el.hidden = consentTypes.indexOf(type) < 0; }
    });
    if (type && !radiusTouched && radiusDefaults[type]) {
      field("radius_m").value = radiusDefaults[type];
      drawCircle();
    }
  }

  form.querySelectorAll('input[name="incident_type"]').forEach(function (el) {
    el.addEventListener("change", function () { showType(); schedulePreview(); });
  });
  field("radius_m").addEventListener("input", function () { radiusTouched = true; drawCircle(); });
  field("radius_m").addEventListener("change", fitCircle);
  ["lat", "lon"].forEach(function (n) { field(n).addEventListener("change", function () { drawCircle(); fitCircle(); }); });

  // --- geocoding ---------------------------------------------------------------------------
  $("geocode-button").addEventListener("click", function () {
    var body = new URLSearchParams();
    ["postcode", "house_number", "addition"].forEach(function (n) { body.append(n, field(n).value); });
    post(form.dataset.geocodeUrl, body).then(function (data) {
      if (data.ok) {
        showError("location", "");
        setPoint(data.lat, data.lon, data.label, false);
      } else {
        showError("location", data.error);
        $("form-announcer").textContent = data.error;
      }
    });
  });
  ["postcode", "house_number", "addition"].forEach(function (n) {
    field(n).addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); $("geocode-button").click(); }
    });
  });

  // --- preview -----------------------------------------------------------------------------
  var timer = null, seq = 0;
  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 350);
  }
  form.addEventListener("input", function (e) {
    if (["postcode", "house_number", "addition"].indexOf(e.target.name) >= 0) { return; }
    schedulePreview();
  });
  form.addEventListener("change", schedulePreview);

  function post(url, body) {
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); }
      return r.json();
    });
  }

  function formBody() {
    var body = new URLSearchParams(new FormData(form));
    // the address is only a way to find the point; a point chosen wins
    if (field("lat").value && field("lon").value) { body.delete("postcode"); body.delete("house_number"); }
    return body;
  }

  function visibleError(name) {
    var set = form.querySelector('.description-set:not([hidden])');
    var inSet = set ? set.querySelector('[data-error-for="' + name + '"]') : null;
    return inSet || form.querySelector('[data-error-for="' + name + '"]');
  }

  // A message's fields name it in aria-describedby; they are aria-invalid while it shows.
  function markFields(el, wrong) {
    if (!el.id) { return; }
    form.querySelectorAll('[aria-describedby~="' + el.id + '"]').forEach(function (control) {
      if (wrong) { control.setAttribute("aria-invalid", "true"); } else { control.removeAttribute("aria-invalid"); }
    });
  }

  function showError(name, text) {
    var el = visibleError(name);
    if (!el) { return false; }
    el.textContent = text || "";
    el.classList.toggle("hidden", !text);
    markFields(el, !!text);
    return true;
  }

  // The errors found while typing (not the norms': they are checked on submit and stay marked
  // until the box is ticked).
  function shownErrors() {
    var texts = [];
    form.querySelectorAll(".field-error:not(.hidden)").forEach(function (el) { texts.push(el.textContent); });
    return texts;
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (el) {
      if (el.dataset.errorFor === "norms") { return; }
      el.textContent = ""; el.classList.add("hidden"); markFields(el, false);
    });
  }

  // Screen readers hear new errors while the centralist types (WCAG 4.1.3), once each.
  function announceNew(before) {
    var fresh = shownErrors().filter(function (t) { return before.indexOf(t) < 0; });
    if (fresh.length) { $("form-announcer").textContent = fresh.join(" "); }
  }

  // A ticked norm is no longer marked; when none is missing, its message goes.
  form.querySelectorAll('.norm input[type="checkbox"]').forEach(function (box) {
    box.addEventListener("change", function () {
      var label = box.closest(".norm");
      if (box.checked) { label.classList.remove("norm-missing"); box.removeAttribute("aria-invalid"); }
      if (!form.querySelector(".norm.norm-missing")) { showError("norms", ""); }
    });
  });

  function setFigure(id, value) { $(id).textContent = value; }

  function formatEta(s) {
    s = Math.round(s);
    if (s < 60) { return s + " s"; }
    var m = Math.floor(s / 60), r = s % 60;
    if (m < 60) { return m + " min " + (r < 10 ? "0" : "") + r + " s"; }
    return Math.floor(m / 60) + " u " + (m % 60) + " min";
  }

  // How the voice reads each typed text where it differs ("Wordt uitgesproken als: ..."), so a
  // wrong guess is visible before the start. Built with textContent: typed text is never HTML.
  function fieldLabel(name) {
    var el = name === "free_text" ? field("free_text") : field("d__" + currentType() + "__" + name);
    var label = el && el.closest ? el.closest("label") : null;
    return label && label.firstChild ? label.firstChild.textContent.replace("*", "").trim() : name;
  }

  function showReadings(readings) {
    var list = $("pv-readings-list");
    list.textContent = "";
    readings.forEach(function (r) {
      var item = document.createElement("li");
      var written = document.createElement("span");
      written.className = "reading-written";
      written.textContent = fieldLabel(r.field) + ": “" + r.written + "”";
      var spoken = document.createElement("span");
      spoken.className = "reading-spoken";
      spoken.textContent = "Wordt uitgesproken als: “" + r.spoken + "”";
      item.appendChild(written);
      item.appendChild(document.createElement("br"));
      item.appendChild(spoken);
      list.appendChild(item);
    });
    $("pv-readings").classList.toggle("hidden", readings.length === 0);
  }

  function runPreview() {
    var mine = ++seq;
    if (!currentType()) { return; }
    post(form.dataset.previewUrl, formBody()).then(function (data) {
      if (mine !== seq) { return; }
      var before = shownErrors();
      clearErrors();
      var errorBox = $("pv-errors");
      if (!data.ok) {
        var loose = [];
        Object.keys(data.errors || {}).forEach(function (k) {
          // only complain about what the centralist has already touched; the norms come last
          if (k === "norms") { return; }
          if (k === "location" && !field("lat").value && !field("postcode").value) { return; }
          if (!showError(k, data.errors[k])) { loose.push(data.errors[k]); }
        });
        errorBox.textContent = loose.join(" ");
        errorBox.classList.toggle("hidden", loose.length === 0);
        announceNew(before);
        ["pv-total", "pv-voice", "pv-sms", "pv-email", "pv-eta"].forEach(function (id) { setFigure(id, "—"); });
        $("pv-supervisor").classList.add("hidden");
        showReadings([]);
        return;
      }
      errorBox.classList.add("hidden");
      setFigure("pv-total", data.total);
      setFigure("pv-voice", data.counts.voice !== undefined ? data.counts.voice : "–");
      setFigure("pv-sms", data.counts.sms !== undefined ? data.counts.sms : "–");
      setFigure("pv-email", data.counts.email !== undefined ? data.counts.email : "–");
      setFigure("pv-eta", formatEta(data.eta_s));
      $("pv-text").textContent = data.display_text;
      showReadings(data.spoken_readings || []);
      $("pv-sms-text").textContent = data.sms.text;
      $("pv-sms-count").textContent = "(" + data.sms.chars + " tekens, " + data.sms.segments +
        (data.sms.segments === 1 ? " sms-deel, " : " sms-delen, ") + data.sms.encoding + ")";
      $("pv-supervisor").classList.toggle("hidden", !data.needs_supervisor);
      var quiet = $("pv-quiet");
      if (data.voice_held_until) {
        quiet.textContent = "Nachtrust: spraakoproepen worden uitgesteld tot " + data.voice_held_until_text + "; sms en e-mail gaan nu.";
      }
      quiet.classList.toggle("hidden", !data.voice_held_until);
    }).catch(function () {
      $("pv-errors").textContent = "Het voorbeeld kon niet worden bijgewerkt (verbinding?).";
      $("pv-errors").classList.remove("hidden");
    });
  }

  // --- audio -------------------------------------------------------------------------------
  $("audio-button").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    button.textContent = "Bezig met inspreken…";
    post(form.dataset.audioUrl, formBody()).then(function (data) {
      button.disabled = false;
      button.textContent = "Beluister bericht";
      if (!data.ok) {
        $("pv-errors").textContent = Object.values(data.errors).join(" ");
        $("pv-errors").classList.remove("hidden");
        return;
      }
      var audio = $("pv-audio");
      audio.src = data.url;
      audio.classList.remove("hidden");
      audio.play().catch(function () { /* autoplay may be refused; the controls remain */ });
    });
  });

  form.addEventListener("submit", function () { $("submit-action").disabled = true; });

  showType();
  drawCircle();
  if (circle) { fitCircle(); }
  // After a refused submit the error summary takes the focus (WCAG 3.3.1), so it is read first.
  if ($("form-errors")) { $("form-errors").focus(); }
  if (currentType()) { schedulePreview(); }
})();
