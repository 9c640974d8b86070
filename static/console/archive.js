// DICOM console: archive pages. Row selection for the study list's bulk actions, and the
// import page's drop zone with an upload progress bar. Vanilla JS, no build step.
(function () {
  "use strict";

  // --- Study list: select all, and how many are selected ---------------------------------
  function setUpSelection(form) {
    var all = document.getElementById("select-all");
    var boxes = function () { return form.querySelectorAll("input[type=checkbox][name=study]"); };
    var label = document.getElementById("selected-count");
    function refresh() {
      var list = boxes();
      var ticked = 0;
      list.forEach(function (box) { if (box.checked) ticked += 1; });
      if (label) label.textContent = ticked ? ticked + " selected" : "none selected";
      if (all) {
        all.checked = ticked > 0 && ticked === list.length;
        all.indeterminate = ticked > 0 && ticked < list.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    form.addEventListener("change", refresh);
    refresh();
    // The ZIP download is a plain GET of the ticked studies (no CSRF token in its address).
    var download = document.getElementById("download-zip");
    if (download) {
      download.addEventListener("click", function (event) {
        event.preventDefault();
        var query = new URLSearchParams();
        boxes().forEach(function (box) { if (box.checked) query.append("study", box.value); });
        query.append("next", form.querySelector("input[name=next]").value);
        window.location.assign(download.getAttribute("formaction") + "?" + query.toString());
      });
    }
  }
  var bulk = document.getElementById("bulk-form");
  if (bulk) setUpSelection(bulk);

  // DICOM date boxes: typed YYYYMMDD or YYYY-MM-DD, or chosen from the browser's calendar.
  function setUpDateBox(box) {
    var picker = document.createElement("input");
    picker.type = "date";
    picker.className = "dicom-date-picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "dicom-date-button secondary outline";
    button.setAttribute("aria-label", "Open calendar");
    button.title = "Choose the date from a calendar";
    // A calendar drawn in currentColor: no emoji font is needed, and it follows the theme.
    button.innerHTML = '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" ' +
      'focusable="false" fill="none" stroke="currentColor" stroke-width="1.5">' +
      '<rect x="1.75" y="3" width="12.5" height="11" rx="1.5"/><path d="M1.75 6.5h12.5' +
      'M5 1.5v3M11 1.5v3"/></svg>';
    var wrap = document.createElement("span");
    wrap.className = "dicom-date-wrap";
    box.parentNode.insertBefore(wrap, box);
    wrap.append(box, button, picker);
    button.addEventListener("click", function () {
      var typed = box.value.trim();
      var digits = /^(\d{4})(\d{2})(\d{2})$/.exec(typed);
      picker.value = digits ? digits[1] + "-" + digits[2] + "-" + digits[3] :
        (/^\d{4}-\d{2}-\d{2}$/.test(typed) ? typed : "");
      if (typeof picker.showPicker === "function") { picker.showPicker(); } else { picker.focus(); }
    });
    picker.addEventListener("change", function () {
      if (picker.value) { box.value = picker.value; }
      box.focus();
    });
  }
  document.querySelectorAll("input.dicom-date").forEach(setUpDateBox);

  // --- Import page: drag and drop of files and folders, upload progress -------------------
  var upload = document.getElementById("upload-form");
  if (!upload) return;
  var limit = parseInt(upload.dataset.maxBytes, 10);
  var zone = document.getElementById("drop-zone");
  var listing = document.getElementById("drop-list");
  var sizeError = document.getElementById("upload-size-error");
  var progress = document.getElementById("upload-progress");
  var progressText = document.getElementById("upload-progress-text");
  var button = upload.querySelector("button[type=submit]");
  var dropped = [];  // {file, path} from the drop zone

  function human(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    if (bytes >= 1024) return (bytes / 1024).toFixed(1) + " KB";
    return bytes + " bytes";
  }

  function chosen() {
    var entries = dropped.slice();
    upload.querySelectorAll("input[type=file]").forEach(function (input) {
      for (var i = 0; i < input.files.length; i++) {
        var file = input.files[i];
        entries.push({ file: file, path: file.webkitRelativePath || file.name });
      }
    });
    return entries;
  }

  function showChosen() {
    var entries = chosen();
    var total = 0;
    entries.forEach(function (e) { total += e.file.size; });
    if (!listing) return;
    listing.textContent = entries.length ?
      entries.length + " file" + (entries.length === 1 ? "" : "s") + ", " + human(total) +
      ": " + entries.slice(0, 5).map(function (e) { return e.path; }).join(", ") +
      (entries.length > 5 ? " …" : "") : "";
  }

  function readEntry(entry, into) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) {
          into.push({ file: file, path: entry.fullPath.replace(/^\//, "") });
          resolve();
        }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var children = [];
        var more = function () {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(children.map(function (c) { return readEntry(c, into); })).then(resolve);
              return;
            }
            children = children.concat(Array.prototype.slice.call(batch));
            more();
          }, function () { resolve(); });
        };
        more();
      } else {
        resolve();
      }
    });
  }

  if (zone) {
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("drag-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("drag-over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var items = event.dataTransfer.items;
      var found = [];
      var waits = [];
      if (items && items.length && items[0].webkitGetAsEntry) {
        for (var i = 0; i < items.length; i++) {
          var entry = items[i].webkitGetAsEntry();
          var plain = entry ? null : items[i].getAsFile();
          if (entry) waits.push(readEntry(entry, found));
          else if (plain) found.push({ file: plain, path: plain.name });
        }
      } else {
        var files = event.dataTransfer.files;
        for (var j = 0; j < files.length; j++) found.push({ file: files[j], path: files[j].name });
      }
      Promise.all(waits).then(function () {
        dropped = dropped.concat(found);
        showChosen();
      });
    });
  }
  upload.querySelectorAll("input[type=file]").forEach(function (input) {
    input.addEventListener("change", showChosen);
  });

  function finish(xhr) {
    var target = xhr.responseURL || "";
    if (target && target.split("#")[0] !== upload.action.split("#")[0]) {
      window.location.assign(target);  // the import job's page
      return;
    }
    document.open();  // the import page again, with its errors
    document.write(xhr.responseText);
    document.close();
  }

  upload.addEventListener("submit", function (event) {
    var entries = chosen();
    var total = 0;
    entries.forEach(function (e) { total += e.file.size; });
    if (total > limit) {
      event.preventDefault();
      sizeError.textContent = "These files add up to " + human(total) +
        ", over the limit of " + human(limit) + ".";
      sizeError.hidden = false;
      return;
    }
    if (!entries.length || !window.FormData || !window.XMLHttpRequest) return;  // plain post
    event.preventDefault();
    sizeError.hidden = true;
    var data = new FormData();
    upload.querySelectorAll("input:not([type=file]), select").forEach(function (field) {
      if (field.name) data.append(field.name, field.value);
    });
    entries.forEach(function (e) {
      data.append("upload", e.file, e.file.name);
      data.append("upload_path", e.path);
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", upload.action);
    xhr.upload.addEventListener("progress", function (p) {
      if (!p.lengthComputable) return;
      progress.max = p.total;
      progress.value = p.loaded;
      progressText.textContent = "Uploading: " + human(p.loaded) + " of " + human(p.total) +
        " (" + Math.round(100 * p.loaded / p.total) + " %)";
    });
    xhr.upload.addEventListener("load", function () {
      progressText.textContent = "Uploaded; starting the import…";
    });
    xhr.addEventListener("load", function () { finish(xhr); });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      sizeError.textContent = "The upload failed (connection lost). Try again.";
      sizeError.hidden = false;
    });
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    progress.hidden = false;
    progress.removeAttribute("value");
    progressText.textContent = "Uploading…";
    xhr.send(data);
  });

})();
