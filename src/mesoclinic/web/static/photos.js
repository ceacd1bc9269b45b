// Photo pages, progressively enhanced (every page works without this file):
//  - capture: the previous visit's ghost and face outline as a guide, over the live camera where
//    getUserMedia exists; "Take photo" puts the frame into the form's file input and submits it;
//  - analysis: posted to the API with progress shown while it runs, then the page reloads;
//  - before/after: the two aligned photos stacked under a divider moved by a range input.
// No library; styles are set through the CSSOM only (the CSP forbids style attributes).
"use strict";
(function () {
  function csrf(form) {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function problem(response) {
    return response.json().then(
      function (body) { return new Error(body.detail || body.title || "error " + response.status); },
      function () { return new Error("error " + response.status); }
    ).then(function (error) { throw error; });
  }

  // --- before/after slider ---------------------------------------------------------------------
  function slider(box) {
    var stage = box.querySelector(".ba-stage");
    var after = box.querySelector(".ba-after");
    var divider = box.querySelector(".ba-divider");
    var control = box.querySelector(".ba-control");
    var range = box.querySelector(".ba-range");
    if (!stage || !after || !range) { return; }
    box.classList.add("ba-slider");
    divider.hidden = false;
    control.hidden = false;

    function show() {
      var value = Number(range.value);
      after.style.clipPath = "inset(0 0 0 " + value + "%)";
      divider.style.left = value + "%";
      range.setAttribute("aria-valuetext", value + "% before, " + (100 - value) + "% after");
    }
    function follow(event) {
      var box = stage.getBoundingClientRect();
      range.value = String(Math.round(Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * 100));
      show();
    }
    var dragging = false;
    stage.addEventListener("pointerdown", function (event) {
      dragging = true;
      stage.setPointerCapture(event.pointerId);
      follow(event);
    });
    stage.addEventListener("pointermove", function (event) { if (dragging) { follow(event); } });
    stage.addEventListener("pointerup", function () { dragging = false; });
    stage.addEventListener("pointercancel", function () { dragging = false; });
    range.addEventListener("input", show);
    show();
  }

  // --- analysis with progress --------------------------------------------------------------------
  function analyser(form) {
    var button = form.querySelector("button[type=submit]");
    var progress = form.querySelector(".analyse-progress");
    var status = form.querySelector(".analyse-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var started = Date.now();
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      progress.hidden = false;
      status.textContent = "Analysing: finding the face, aligning it and measuring every zone…";
      fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(form), "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { return problem(response); }
        var seconds = ((Date.now() - started) / 1000).toFixed(1);
        status.textContent = "Analysed in " + seconds + " s. Loading the results…";
        window.location.assign(form.dataset.next);
      }).catch(function (error) {
        progress.hidden = true;
        button.disabled = false;
        form.removeAttribute("aria-busy");
        status.textContent = "The analysis failed: " + error.message;
      });
    });
  }

  // --- capture with the ghost of the previous visit ----------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";

  function capture(form) {
    var patient = form.dataset.patient;
    var view = form.querySelector("#view");
    var visit = form.querySelector("#visit_on");
    var file = form.querySelector("#file");
    var status = form.querySelector(".capture-status");
    var stage = form.querySelector(".stage");
    var video = stage.querySelector("video");
    var ghost = stage.querySelector(".ghost");
    var outline = stage.querySelector(".outline");
    var points = stage.querySelector(".points");
    var note = form.querySelector(".ghost-note");
    var start = form.querySelector(".camera-start");
    var take = form.querySelector(".camera-take");
    var stop = form.querySelector(".camera-stop");
    var stream = null;
    var aspect = null;
    var asked = 0;

    function viewLabel() { return view.options[view.selectedIndex].text.toLowerCase(); }

    function clearGuide() {
      aspect = null;
      ghost.hidden = true;
      ghost.removeAttribute("src");
      outline.setAttribute("points", "");
      while (points.firstChild) { points.removeChild(points.firstChild); }
      stage.style.aspectRatio = "";
      stage.hidden = !stream;
    }

    function drawGuide(guides, query) {
      aspect = guides.width / guides.height;
      stage.style.aspectRatio = guides.width + " / " + guides.height;
      outline.setAttribute("points", guides.face_outline.map(function (p) { return p[0] + "," + p[1]; }).join(" "));
      Object.keys(guides.landmarks).forEach(function (name) {
        var dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("cx", guides.landmarks[name][0]);
        dot.setAttribute("cy", guides.landmarks[name][1]);
        dot.setAttribute("r", "0.006");
        points.appendChild(dot);
      });
      ghost.src = "/api/v1/patients/" + patient + "/photos/ghost?" + query;
      ghost.alt = "Guide: the " + viewLabel() + " photo of " + guides.visit_on;
      ghost.hidden = false;
      stage.hidden = false;
      note.textContent = "Guide: the " + viewLabel() + " photo of " + guides.visit_on +
        ". Match the face to the outline: same distance, same pose.";
    }

    function loadGuide() {
      var ticket = ++asked;
      var query = "view=" + encodeURIComponent(view.value) +
        (visit.value ? "&before=" + encodeURIComponent(visit.value) : "");
      clearGuide();
      note.textContent = "Looking for an earlier " + viewLabel() + " photo…";
      fetch("/api/v1/patients/" + patient + "/photos/ghost/guides?" + query, {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (ticket !== asked) { return; }
        if (response.status === 404) {
          note.textContent = "No earlier analysed " + viewLabel() + " photo: nothing to line up with. " +
            "Frame the face as the clinic's standard.";
          return;
        }
        if (!response.ok) { return problem(response); }
        return response.json().then(function (guides) { if (ticket === asked) { drawGuide(guides, query); } });
      }).catch(function (error) {
        if (ticket === asked) { note.textContent = "The guide could not be loaded: " + error.message; }
      });
    }

    function stopCamera() {
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      stream = null;
      video.srcObject = null;
      video.hidden = true;
      stage.classList.remove("live");
      stage.hidden = ghost.hidden;
      take.hidden = true;
      stop.hidden = true;
      start.hidden = false;
    }

    function upload(blob) {
      var name = "capture-" + view.value + ".jpg";
      try {
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], name, { type: "image/jpeg" }));
        file.files = transfer.files;
      } catch (ignored) {
        // No DataTransfer (older Safari): send the same form with the frame in place of the file.
        var data = new FormData(form);
        data.set("file", blob, name);
        fetch(form.action, { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
          window.location.assign(response.redirected ? response.url : form.action);
        });
        return;
      }
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }

    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      start.hidden = false;
    }
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1920 }, height: { ideal: 1440 } }, audio: false
      }).then(function (camera) {
        stream = camera;
        video.srcObject = camera;
        video.hidden = false;
        stage.hidden = false;
        stage.classList.add("live");
        video.addEventListener("loadedmetadata", function () {
          if (!aspect) { stage.style.aspectRatio = video.videoWidth + " / " + video.videoHeight; }
        }, { once: true });
        video.play();
        start.hidden = true;
        take.hidden = false;
        stop.hidden = false;
        take.focus();
        status.textContent = "Camera on. Line the face up with the guide, then take the photo.";
      }).catch(function (error) {
        status.textContent = "The camera could not start (" + error.name + "): upload a photo instead.";
      });
    });
    stop.addEventListener("click", function () { stopCamera(); start.focus(); });
    take.addEventListener("click", function () {
      var width = video.videoWidth, height = video.videoHeight;
      if (!width || !height) { return; }
      // Keep what the preview shows: the centre of the frame at the guide's aspect ratio.
      var ratio = aspect || width / height;
      var sw = width, sh = height, sx = 0, sy = 0;
      if (width / height > ratio) { sw = Math.round(height * ratio); sx = Math.round((width - sw) / 2); }
      else { sh = Math.round(width / ratio); sy = Math.round((height - sh) / 2); }
      var canvas = document.createElement("canvas");
      canvas.width = sw;
      canvas.height = sh;
      canvas.getContext("2d").drawImage(video, sx, sy, sw, sh, 0, 0, sw, sh);
      take.disabled = true;
      status.textContent = "Photo taken. Uploading and checking it…";
      canvas.toBlob(function (blob) {
        stopCamera();
        take.disabled = false;
        upload(blob);
      }, "image/jpeg", 0.92);
    });
    form.addEventListener("submit", function () {
      status.textContent = "Uploading and checking the photo…";
    });
    view.addEventListener("change", loadGuide);
    visit.addEventListener("change", loadGuide);
    loadGuide();
  }

  document.querySelectorAll("[data-ba]").forEach(slider);
  document.querySelectorAll("form.analyse-form").forEach(analyser);
  var form = document.querySelector("form.capture-form");
  if (form) { capture(form); }
})();
