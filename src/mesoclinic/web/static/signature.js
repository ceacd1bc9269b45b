// A drawn signature on a <canvas>, kept as SVG path data (absolute M and L commands) in the form's
// hidden "signature_svg_path" field, in the canvas's own coordinates. No library: pointer events only.
"use strict";
(function () {
  function setUp(form) {
    var canvas = form.querySelector("canvas.signature-pad");
    var field = form.querySelector("input.signature-path");
    var clear = form.querySelector("button.signature-clear");
    if (!canvas || !field) { return; }
    var ink = canvas.getContext("2d");
    var parts = [];
    var drawing = false;
    ink.lineWidth = 2.5;
    ink.lineCap = "round";
    ink.strokeStyle = "#1d2433";

    function point(event) {
      var box = canvas.getBoundingClientRect();
      var x = (event.clientX - box.left) * (canvas.width / box.width);
      var y = (event.clientY - box.top) * (canvas.height / box.height);
      return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
    }
    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      var p = point(event);
      parts.push("M " + p[0] + " " + p[1]);
      ink.beginPath();
      ink.moveTo(p[0], p[1]);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      parts.push("L " + p[0] + " " + p[1]);
      ink.lineTo(p[0], p[1]);
      ink.stroke();
    });
    function stop() {
      drawing = false;
      field.value = parts.join(" ");
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    if (clear) {
      clear.addEventListener("click", function () {
        parts = [];
        field.value = "";
        ink.clearRect(0, 0, canvas.width, canvas.height);
      });
    }
  }
  document.querySelectorAll("form.signature-form").forEach(setUp);
})();
