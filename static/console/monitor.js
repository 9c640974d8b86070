// DICOM console: association monitor. A row's "Details" button shows or hides the row
// under it; htmx loads the full record into it the first time (hx-trigger="click once").
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-expand]");
    if (!button) return;
    var row = document.getElementById(button.dataset.expand);
    if (!row) return;
    var open = row.hidden;
    row.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Hide" : "Details";
  });
})();
