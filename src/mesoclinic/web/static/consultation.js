// Signature pad for the consent step: draws on a <canvas> and keeps the drawing as SVG path
// data ("M x y L x y ...", absolute commands only) in the hidden signature_svg_path field.
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  var field = document.getElementById("signature_svg_path");
  if (!canvas || !field) { return; }
  document.querySelectorAll(".noscript-hint").forEach(function (el) { el.hidden = true; });
  var ctx = canvas.getContext("2d");
  var strokes = [];
  var current = null;

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    var x = (event.clientX - rect.left) * (canvas.width / rect.width);
    var y = (event.clientY - rect.top) * (canvas.height / rect.height);
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  function toPath() {
    return strokes.filter(function (s) { return s.length > 1; }).map(function (s) {
      return s.map(function (p, i) { return (i === 0 ? "M " : "L ") + p[0] + " " + p[1]; }).join(" ");
    }).join(" ");
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1a1a2e";
    strokes.forEach(function (s) {
      ctx.beginPath();
      s.forEach(function (p, i) { if (i === 0) { ctx.moveTo(p[0], p[1]); } else { ctx.lineTo(p[0], p[1]); } });
      ctx.stroke();
    });
    field.value = toPath();
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!current) { return; }
    var p = point(event);
    var last = current[current.length - 1];
    if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) >= 1.5) { current.push(p); redraw(); }
  });
  function end() { current = null; redraw(); }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  var clear = document.getElementById("signature-clear");
  if (clear) { clear.addEventListener("click", function () { strokes = []; redraw(); }); }
})();
