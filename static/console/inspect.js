// DICOM console: inspect pages — the dump's folding sequences and items. Vanilla JS.
(function () {
  "use strict";

  var byId = window.consoleDom.byId;
  var el = window.consoleDom.el;

  // ---------------------------------------------------------------- Dump: fold sequences
  function dumpFolding(table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var depths = rows.map(function (row) { return parseInt(row.dataset.depth || "0", 10); });
    var collapsed = [];
    var foldable = 0;
    rows.forEach(function (row, i) {
      collapsed.push(false);
      if (i + 1 < rows.length && depths[i + 1] > depths[i]) {
        var button = el("button", "fold-toggle", "▾");
        button.type = "button";
        button.setAttribute("aria-expanded", "true");
        button.setAttribute("aria-label", "Collapse " + (row.dataset.tag || "item"));
        button.dataset.row = String(i);
        row.cells[1].insertBefore(button, row.cells[1].firstChild);
        row.classList.add("foldable");
        foldable += 1;
      }
    });
    if (!foldable) return;

    function isEnd(row) {
      return row.classList.contains("dump-item_end") || row.classList.contains("dump-sequence_end");
    }

    // One pass: a collapsed row hides the deeper rows after it and its own end row.
    function apply() {
      var stack = []; // depths of the collapsed rows whose scope is open
      rows.forEach(function (row, i) {
        var depth = depths[i];
        var hidden = false;
        while (stack.length && depth <= stack[stack.length - 1]) {
          var top = stack.pop();
          if (depth === top && isEnd(row)) { hidden = true; break; }
        }
        if (stack.length) hidden = true;
        row.hidden = hidden;
        if (collapsed[i] && !hidden) stack.push(depth);
      });
    }

    function setRow(i, closed) {
      collapsed[i] = closed;
      var button = rows[i].querySelector(".fold-toggle");
      if (!button) return;
      button.textContent = closed ? "▸" : "▾";
      button.setAttribute("aria-expanded", closed ? "false" : "true");
      button.setAttribute("aria-label", (closed ? "Expand " : "Collapse ") +
        (rows[i].dataset.tag || "item"));
      rows[i].classList.toggle("folded", closed);
    }

    table.addEventListener("click", function (event) {
      var button = event.target.closest(".fold-toggle");
      if (!button) return;
      var i = parseInt(button.dataset.row, 10);
      setRow(i, !collapsed[i]);
      apply();
    });
    document.querySelectorAll("[data-dump-fold]").forEach(function (button) {
      button.addEventListener("click", function () {
        var closing = button.dataset.dumpFold === "collapse";
        rows.forEach(function (row, i) {
          if (row.querySelector(".fold-toggle")) setRow(i, closing);
        });
        apply();
      });
    });
    var tools = document.querySelector(".dump-folds");
    if (tools) tools.hidden = false;
  }


  var table = byId("dump-table");
  if (table) dumpFolding(table);
})();
