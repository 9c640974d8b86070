/* DICOM console: the archive picker (templates/_picker.html, archive/pickers.py).
 * A combobox: typing searches the archive, ArrowUp/ArrowDown move through the results,
 * Enter chooses (the first result when none is highlighted), Escape closes the list.
 * A choice becomes a chip with a hidden input; × removes it. Without this script the
 * search box is a plain text field that takes archive IDs or UIDs. */
(function () {
  "use strict";
  if (window.consolePicker) { return; }
  window.consolePicker = true;

  var DELAY_MS = 200;

  function setup(root) {
    if (root.dataset.pickerReady) { return; }
    root.dataset.pickerReady = "1";
    var input = root.querySelector("input[role=combobox]");
    var list = root.querySelector("[role=listbox]");
    var chips = root.querySelector(".picker-chips");
    var status = root.querySelector(".picker-status");
    var multiple = root.dataset.multiple === "1";
    var timer = null;
    var active = -1;
    var results = [];
    var asked = 0;

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var all = options();
      if (!all.length) { return; }
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({block: "nearest"});
    }

    function chosenValues() {
      return Array.prototype.map.call(
        chips.querySelectorAll("input[type=hidden]"), function (i) { return i.value; });
    }

    function show(found, more) {
      results = found;
      list.textContent = "";
      var taken = chosenValues();
      found.forEach(function (result, i) {
        var option = document.createElement("li");
        option.id = input.id + "-option-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        if (taken.indexOf(result.value) >= 0) { option.classList.add("picker-taken"); }
        var summary = document.createElement("span");
        summary.className = "picker-summary";
        summary.textContent = result.summary;
        var detail = document.createElement("small");
        detail.textContent = result.detail;
        option.append(summary, detail);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the search box
          choose(i);
        });
        list.append(option);
      });
      if (!found.length) {
        status.textContent = "Nothing matches “" + input.value.trim() + "” in the archive.";
        close();
        return;
      }
      status.textContent = found.length + (more ? "+" : "") + " match" +
        (found.length === 1 ? "" : "es") + ": arrows to move, Enter to choose, Escape to close.";
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function search() {
      var url = root.dataset.searchUrl;
      var q = encodeURIComponent(input.value.trim());
      var ticket = ++asked;
      fetch(url + (url.indexOf("?") >= 0 ? "&" : "?") + "q=" + q,
            {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          // a late answer for a box the user has left would reopen its list over the next one
          if (ticket === asked && document.activeElement === input) {
            show(data.results, data.more);
          }
        })
        .catch(function (error) { status.textContent = "Search failed: " + error.message; });
    }

    function addChip(result) {
      if (!multiple) { chips.textContent = ""; }
      if (chosenValues().indexOf(result.value) >= 0) { return; }
      var chip = document.createElement("li");
      chip.className = "picker-chip";
      chip.title = result.detail;
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = root.dataset.name;
      hidden.value = result.value;
      var text = document.createElement("span");
      text.className = "picker-chip-text";
      text.textContent = result.summary;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "picker-remove";
      remove.setAttribute("aria-label", "Remove " + result.summary);
      remove.textContent = "×";
      chip.append(hidden, text, remove);
      chips.append(chip);
      chips.hidden = false;
    }

    function choose(index) {
      var result = results[index];
      if (!result) { return; }
      addChip(result);
      input.value = "";
      close();
      status.textContent = "Chosen: " + result.summary + ".";
      input.focus();
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, DELAY_MS);
    });
    input.addEventListener("focus", function () {
      if (!input.value.trim() && list.hidden) { search(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (open) { highlight(active + 1); } else { search(); }
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        highlight(active - 1);
      } else if (event.key === "Enter" && open && results.length) {
        event.preventDefault();
        choose(active >= 0 ? active : 0);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      } else if (event.key === "Backspace" && !input.value && chips.lastElementChild) {
        chips.lastElementChild.remove();
        chips.hidden = !chips.children.length;
        status.textContent = "Removed the last choice.";
      }
    });
    chips.addEventListener("click", function (event) {
      var button = event.target.closest(".picker-remove");
      if (!button) { return; }
      var text = button.closest(".picker-chip").querySelector(".picker-chip-text").textContent;
      button.closest(".picker-chip").remove();
      chips.hidden = !chips.children.length;
      status.textContent = "Removed " + text + ".";
      input.focus();
    });
  }

  function setupAll() { document.querySelectorAll("[data-picker]").forEach(setup); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
  document.addEventListener("htmx:load", setupAll);
})();
