// Drag a booked appointment onto a free time to move it. The move is an ordinary form post to the
// appointment's reschedule route, so the server decides (and explains a refusal on the
// appointment's page); without JavaScript, or by keyboard, the appointment's page does the same.
(function () {
  "use strict";
  const form = document.getElementById("move-form");
  const status = document.getElementById("move-status");
  if (!form) return;
  let dragged = null;

  document.querySelectorAll("a.appt[data-appointment]").forEach(function (appointment) {
    appointment.addEventListener("dragstart", function (event) {
      dragged = appointment.dataset.appointment;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged);
      document.body.classList.add("moving");
    });
    appointment.addEventListener("dragend", function () {
      document.body.classList.remove("moving");
    });
  });

  document.querySelectorAll("a.free[data-starts-at]").forEach(function (slot) {
    slot.addEventListener("dragover", function (event) {
      if (dragged === null) return;
      event.preventDefault(); // allows the drop
      slot.classList.add("drop-target");
    });
    slot.addEventListener("dragleave", function () {
      slot.classList.remove("drop-target");
    });
    slot.addEventListener("drop", function (event) {
      event.preventDefault();
      if (dragged === null) return;
      form.action = "/calendar/appointments/" + encodeURIComponent(dragged) + "/reschedule";
      form.elements.starts_at.value = slot.dataset.startsAt;
      form.elements.practitioner_user_id.value = slot.dataset.practitioner;
      if (status) status.textContent = "Moving the appointment…";
      form.submit();
    });
  });
})();
