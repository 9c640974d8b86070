/* DICOM console: conversion job forms (archive/conversions/jobs/forms.py).
 * A field whose control carries data-when="other:value1,value2" is shown only while the
 * control named "other" has one of those values (a radio group, a select or a checkbox
 * with "on"); a lossy target shows the lossy confirmation with a warning. Without this
 * script every field stays visible and the server checks the same rules. */
(function () {
  "use strict";
  var form = document.getElementById("job-form");
  if (!form) { return; }

  function valueOf(name) {
    var controls = form.querySelectorAll("[name='" + name + "']");
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      if (control.type === "radio") { if (control.checked) { return control.value; } }
      else if (control.type === "checkbox") { return control.checked ? "on" : ""; }
      else if (control.tagName === "SELECT") {
        var option = control.options[control.selectedIndex];
        return option ? option.value : "";
      } else { return control.value; }
    }
    return "";
  }

  function lossyChosen() {
    var select = form.querySelector("select[name='target']");
    if (!select) { return false; }
    var option = select.options[select.selectedIndex];
    return Boolean(option && option.dataset.lossy);
  }

  function update() {
    form.querySelectorAll("[data-when]").forEach(function (control) {
      var rule = control.dataset.when.split(":");
      var wanted = rule[1].split(",");
      var shown = rule[0] === "lossy-target" ? lossyChosen()
        : wanted.indexOf(valueOf(rule[0])) !== -1;
      var field = control.closest(".field");
      if (field) { field.hidden = !shown; }
    });
    var warning = document.getElementById("lossy-warning");
    if (warning) { warning.hidden = !lossyChosen(); }
  }

  var select = form.querySelector("select[name='target']");
  if (select && !document.getElementById("lossy-warning")) {
    var note = document.createElement("p");
    note.id = "lossy-warning";
    note.className = "notice warning";
    note.setAttribute("role", "status");
    note.textContent = "This target is lossy: image information is lost for good. " +
      "Tick “I accept a lossy result” to go on.";
    select.closest(".field").appendChild(note);
  }
  form.addEventListener("change", update);
  update();
})();
