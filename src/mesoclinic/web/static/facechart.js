// Session screen: the numbing countdown and the interactive face chart.
// Tapping a zone places an injection point there (0-1 frame coordinates); the zone form's
// points, chart points and the live totals follow. Without JavaScript the form still works.
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";

  // --- numbing countdown, from the server's ready-at time ---
  var timer = document.getElementById("numbing-timer");
  if (timer && timer.dataset.readyAt) {
    var readyAt = Date.parse(timer.dataset.readyAt);
    var tick = function () {
      var left = Math.ceil((readyAt - Date.now()) / 1000);
      if (left <= 0) {
        timer.textContent = "Ready to inject";
        timer.classList.add("ready");
        return;
      }
      var m = Math.floor(left / 60);
      var s = left % 60;
      timer.textContent = "Numbing: " + m + ":" + (s < 10 ? "0" : "") + s + " left";
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  // --- face chart ---
  var chart = document.getElementById("face-chart");
  var form = document.getElementById("zone-form");
  if (!chart || !form) { return; }
  var layer = document.getElementById("pending-points");
  var zoneSelect = document.getElementById("zone");
  var pointsField = document.getElementById("points");
  var chartField = document.getElementById("chart_points");
  var volumeField = document.getElementById("volume_per_point_ml");
  var zoneTotal = document.getElementById("zone-total");
  var liveTotal = document.getElementById("live-total");
  var recordedTotal = parseFloat(chart.dataset.recordedTotal || "0");
  var recordedPoints = parseInt(chart.dataset.recordedPoints || "0", 10);
  var pending = [];
  var zones = chart.querySelectorAll(".zone");

  function round(value, places) {
    var f = Math.pow(10, places);
    return Math.round(value * f) / f;
  }

  function render() {
    while (layer.firstChild) { layer.removeChild(layer.firstChild); }
    pending.forEach(function (p) {
      var dot = document.createElementNS(SVG_NS, "circle");
      dot.setAttribute("cx", String(p[0] * 100));
      dot.setAttribute("cy", String(p[1] * 100));
      dot.setAttribute("r", "1.1");
      dot.setAttribute("class", "pending");
      layer.appendChild(dot);
    });
    zones.forEach(function (z) {
      z.classList.toggle("selected", z.dataset.zone === zoneSelect.value && pending.length > 0);
    });
    chartField.value = pending.map(function (p) { return p[0] + "," + p[1]; }).join(";");
    if (pending.length) { pointsField.value = String(pending.length); }
    update();
  }

  function update() {
    var volume = parseFloat(volumeField.value);
    var points = parseInt(pointsField.value, 10) || 0;
    var zoneVolume = isFinite(volume) ? round(volume * points, 4) : 0;
    zoneTotal.textContent = points + " point" + (points === 1 ? "" : "s") + ", " + zoneVolume + " mL";
    liveTotal.textContent = round(recordedTotal + zoneVolume, 4) + " mL in " + (recordedPoints + points) + " points";
  }

  function place(zone, x, y) {
    if (zoneSelect.value !== zone.dataset.zone) {
      pending = [];  // one zone per form: a new zone starts a new set of points
      zoneSelect.value = zone.dataset.zone;
    }
    pending.push([round(Math.min(1, Math.max(0, x)), 4), round(Math.min(1, Math.max(0, y)), 4)]);
    render();
  }

  zones.forEach(function (zone) {
    zone.addEventListener("click", function (event) {
      var pt = chart.createSVGPoint();
      pt.x = event.clientX;
      pt.y = event.clientY;
      var local = pt.matrixTransform(chart.getScreenCTM().inverse());
      place(zone, local.x / 100, local.y / 100);
    });
    zone.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") { return; }
      event.preventDefault();
      // From the keyboard: points spread around the zone's centre.
      var n = zoneSelect.value === zone.dataset.zone ? pending.length : 0;
      var angle = n * 2.4;
      var r = n === 0 ? 0 : 0.4;
      var cx = parseFloat(zone.getAttribute("cx")) + r * parseFloat(zone.getAttribute("rx")) * Math.cos(angle);
      var cy = parseFloat(zone.getAttribute("cy")) + r * parseFloat(zone.getAttribute("ry")) * Math.sin(angle);
      place(zone, cx / 100, cy / 100);
    });
  });

  zoneSelect.addEventListener("change", function () { pending = []; render(); });
  pointsField.addEventListener("input", function () {
    if (pending.length && parseInt(pointsField.value, 10) !== pending.length) {
      pending = [];  // a typed count replaces the drawn points
      render();
    }
    update();
  });
  volumeField.addEventListener("input", update);
  var undo = document.getElementById("undo-point");
  if (undo) {
    undo.addEventListener("click", function () {
      pending.pop();
      if (!pending.length) { pointsField.value = ""; }
      render();
    });
  }
  update();
  chart.setAttribute("data-live", "");  // handlers attached (tests wait for this)
})();
