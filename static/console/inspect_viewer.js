// DICOM console: inspect pages — the render viewer: zoom/fit, drag windowing through the
// server's render endpoint, pixel readout, cine play. Vanilla JS.
(function () {
  "use strict";

  var byId = window.consoleDom.byId;

  // --------------------------------------------------------------------- Render viewer
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function viewer(root) {
    var renderUrl = root.dataset.renderUrl;
    var pixelUrl = root.dataset.pixelUrl;
    var frames = parseInt(root.dataset.frames || "1", 10);
    var monochrome = root.dataset.monochrome === "1";
    var image = byId("frame-image");
    var viewport = byId("viewport");
    var error = byId("render-error");
    var preset = byId("preset");
    var wc = byId("wc");
    var ww = byId("ww");
    var frameInput = byId("frame");
    var readout = byId("pixel-readout");
    var cache = new Map(); // query → blob URL, so cine loops and repeats are instant
    var zoom = 1;
    var fitting = true;

    function frame() { return frameInput ? frameInput.value : "1"; }

    function query(extra) {
      var params = new URLSearchParams();
      params.set("frame", frame());
      if (preset && preset.value === "typed") {
        params.set("wc", wc.value);
        params.set("ww", ww.value);
      } else if (preset && preset.value) {
        params.set("preset", preset.value);
      }
      Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
      return renderUrl + "?" + params.toString();
    }

    // At most one request in flight; the newest wanted image wins.
    var loading = false;
    var wanted = null;
    var onShown = null;

    function show(url) {
      image.src = url;
      error.hidden = true;
      if (onShown) { var done = onShown; onShown = null; done(); }
    }

    function load() {
      if (loading || wanted === null) return;
      var url = wanted;
      wanted = null;
      if (cache.has(url)) { show(cache.get(url)); load(); return; }
      loading = true;
      fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (!response.ok) return response.text().then(function (t) { throw new Error(t); });
        return response.blob();
      }).then(function (blob) {
        var objectUrl = URL.createObjectURL(blob);
        if (cache.size > 300) {
          var oldest = cache.keys().next().value;
          URL.revokeObjectURL(cache.get(oldest));
          cache.delete(oldest);
        }
        cache.set(url, objectUrl);
        show(objectUrl);
      }).catch(function (e) {
        error.textContent = e.message;
        error.hidden = false;
        if (playing) togglePlay();
      }).then(function () {
        loading = false;
        load();
      });
    }

    function refresh() {
      if (frameInput) byId("frame-number").textContent = frameInput.value;
      wanted = query();
      load();
      byId("download-png").href = query({download: "1"});
      byId("download-jpeg").href = query({download: "1", format: "jpeg"});
    }
    var refreshSoon = debounce(refresh, 120);

    // Window: a preset fills the boxes; typing or dragging switches to typed values.
    function fillFromPreset() {
      var option = preset.options[preset.selectedIndex];
      if (option && option.dataset.wc !== undefined) {
        wc.value = option.dataset.wc;
        ww.value = option.dataset.ww;
      }
    }
    if (preset) {
      fillFromPreset();
      preset.addEventListener("change", function () { fillFromPreset(); refresh(); });
      [wc, ww].forEach(function (box) {
        box.addEventListener("input", function () {
          preset.value = "typed";
          if (parseFloat(ww.value) >= 1 && wc.value !== "") refreshSoon();
        });
        box.addEventListener("keydown", function (event) {
          if (event.key === "Enter") { event.preventDefault(); refresh(); }
        });
      });
    }

    // Zoom: wheel and buttons; "Fit" follows the viewport until the user zooms.
    function applyZoom() {
      if (!image.naturalWidth) return;
      if (fitting) {
        zoom = Math.min(viewport.clientWidth / image.naturalWidth,
          viewport.clientHeight / image.naturalHeight);
      }
      image.style.width = Math.round(image.naturalWidth * zoom) + "px";
      image.style.height = Math.round(image.naturalHeight * zoom) + "px";
      image.style.imageRendering = zoom > 1.5 ? "pixelated" : "auto";
      byId("zoom-level").textContent = Math.round(zoom * 100) + "%";
      viewport.classList.toggle("zoomed", image.offsetWidth > viewport.clientWidth ||
        image.offsetHeight > viewport.clientHeight);
    }
    function zoomBy(factor, clientX, clientY) {
      var box = viewport.getBoundingClientRect();
      var x = (clientX === undefined ? box.width / 2 : clientX - box.left);
      var y = (clientY === undefined ? box.height / 2 : clientY - box.top);
      var beforeX = (viewport.scrollLeft + x - image.offsetLeft) / zoom;
      var beforeY = (viewport.scrollTop + y - image.offsetTop) / zoom;
      fitting = false;
      zoom = Math.min(32, Math.max(0.05, zoom * factor));
      applyZoom();
      viewport.scrollLeft = beforeX * zoom + image.offsetLeft - x;
      viewport.scrollTop = beforeY * zoom + image.offsetTop - y;
    }
    image.addEventListener("load", applyZoom);
    window.addEventListener("resize", function () { if (fitting) applyZoom(); });
    byId("zoom-in").addEventListener("click", function () { zoomBy(1.25); });
    byId("zoom-out").addEventListener("click", function () { zoomBy(0.8); });
    byId("zoom-fit").addEventListener("click", function () { fitting = true; applyZoom(); });
    byId("zoom-one").addEventListener("click", function () {
      fitting = false; zoom = 1; applyZoom();
    });
    viewport.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoomBy(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX, event.clientY);
    }, {passive: false});

    // Drag windowing: horizontal = width, vertical = center (down raises it, as viewers do).
    var drag = null;
    image.addEventListener("pointerdown", function (event) {
      if (!monochrome || !preset || event.button !== 0) return;
      event.preventDefault();
      var center = parseFloat(wc.value), width = parseFloat(ww.value);
      if (isNaN(center) || isNaN(width)) return;
      drag = {x: event.clientX, y: event.clientY, wc: center, ww: width,
        step: Math.max(width, 2) / 256};
      image.setPointerCapture(event.pointerId);
      viewport.classList.add("dragging");
    });
    image.addEventListener("pointermove", function (event) {
      if (drag) {
        var width = Math.max(1, drag.ww + (event.clientX - drag.x) * drag.step);
        var center = drag.wc + (event.clientY - drag.y) * drag.step;
        ww.value = String(Math.round(width * 100) / 100);
        wc.value = String(Math.round(center * 100) / 100);
        preset.value = "typed";
        refreshSoon();
        return;
      }
      pointAt(event);
    });
    function endDrag() {
      if (!drag) return;
      drag = null;
      viewport.classList.remove("dragging");
      refresh();
    }
    image.addEventListener("pointerup", endDrag);
    image.addEventListener("pointercancel", endDrag);

    // Pixel readout under the cursor, from the server (stored and Modality LUT values).
    var pointWanted = null;
    var pointLoading = false;
    function format(value) {
      if (value === null || value === undefined) return "";
      if (Array.isArray(value)) return value.join(", ");
      return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
    }
    function describe(data) {
      var text = "Row " + data.row + ", column " + data.column;
      if (frames > 1) text += ", frame " + data.frame;
      text += ": stored " + format(data.stored);
      if (data.rescaled !== null && (data.slope !== null || data.unit)) {
        text += " → " + format(data.rescaled) + (data.unit ? " " + data.unit : "");
      }
      return text;
    }
    function loadPoint() {
      if (pointLoading || pointWanted === null) return;
      var url = pointWanted;
      pointWanted = null;
      pointLoading = true;
      fetch(url, {credentials: "same-origin"}).then(function (response) {
        return response.json().then(function (data) {
          readout.textContent = response.ok ? describe(data) : data.error;
          readout.dataset.stored = response.ok ? format(data.stored) : "";
        });
      }).catch(function () { readout.textContent = ""; }).then(function () {
        pointLoading = false;
        loadPoint();
      });
    }
    var pointSoon = debounce(loadPoint, 40);
    function pointAt(event) {
      if (!image.naturalWidth || !image.clientWidth) return;
      var column = Math.floor(event.offsetX * image.naturalWidth / image.clientWidth);
      var row = Math.floor(event.offsetY * image.naturalHeight / image.clientHeight);
      if (column < 0 || row < 0 || column >= image.naturalWidth || row >= image.naturalHeight) {
        return;
      }
      var params = new URLSearchParams({frame: frame(), row: String(row),
        column: String(column)});
      pointWanted = pixelUrl + "?" + params.toString();
      pointSoon();
    }

    // Cine: the next frame is asked for once the current one is shown, at most at the fps.
    var playing = false;
    var playTimer = null;
    var play = byId("cine-play");
    var fpsInput = byId("cine-fps");
    function fps() {
      var value = parseFloat(fpsInput ? fpsInput.value : "10");
      return value > 0 ? Math.min(value, 60) : 10;
    }
    function step() {
      if (!playing) return;
      var started = performance.now();
      var next = parseInt(frameInput.value, 10) % frames + 1;
      frameInput.value = String(next);
      onShown = function () {
        var wait = Math.max(0, 1000 / fps() - (performance.now() - started));
        playTimer = setTimeout(step, wait);
      };
      refresh();
    }
    function togglePlay() {
      playing = !playing;
      play.textContent = playing ? "❚❚ Pause" : "▶ Play";
      play.setAttribute("aria-pressed", playing ? "true" : "false");
      clearTimeout(playTimer);
      onShown = null;
      if (playing) step();
    }
    if (play && frames > 1) play.addEventListener("click", togglePlay);
    if (frameInput) frameInput.addEventListener("input", refresh);

    refresh();
  }


  var root = byId("viewer");
  if (root) viewer(root);
})();
