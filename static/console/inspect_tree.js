// DICOM console: inspect pages — DICOM JSON / Native XML as a folding tree with search
// (highlights, count, next/previous) and copy (console.js data-copy-target). Vanilla JS.
(function () {
  "use strict";

  var byId = window.consoleDom.byId;
  var el = window.consoleDom.el;


  // ------------------------------------------------------- JSON / XML: tree, search, copy
  var COMPACT = 100; // objects and arrays that fit this many characters stay on one line

  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;";
    });
  }

  // The tree is written as one HTML string (much faster than a node at a time for
  // documents of megabytes); tokens are the spans that search looks into.
  function DocTree(container) {
    this.container = container;
    this.html = [];
    this.tokens = [];
    this.marks = [];
    this.current = -1;
    this.openDepth = Infinity;
  }

  DocTree.prototype.tok = function (className, text) {
    return "<span class=\"tok " + className + "\">" + esc(text) + "</span>";
  };

  DocTree.prototype.open = function (depth, head, closeText, count) {
    this.html.push("<details class=\"fold\" data-depth=\"" + depth + "\"" +
      (depth < this.openDepth ? " open" : "") + "><summary>" + head +
      "<span class=\"fold-count\"> " + esc(count) + " </span><span class=\"fold-ellipsis\">… " +
      esc(closeText) + "</span></summary><div class=\"fold-body\">");
  };

  DocTree.prototype.close = function (closeText) {
    this.html.push("</div><div class=\"ln fold-close\">" + esc(closeText) + "</div></details>");
  };

  // JSON ---------------------------------------------------------------------------
  function isScalar(v) { return v === null || typeof v !== "object"; }

  DocTree.prototype.jsonScalar = function (value) {
    return this.tok("v v-" + (value === null ? "null" : typeof value), JSON.stringify(value));
  };

  // JavaScript orders integer-like keys ("52009229") before the others; a marker in front
  // of every tag key keeps the document's order.
  var KEY_MARK = "\u0001";
  var TAG_KEY = /([{,\s])"([0-9A-Fa-f]{8})":/g;

  function parseOrdered(text) {
    return JSON.parse(text.replace(TAG_KEY, "$1\"\\u0001$2\":")); // the escaped KEY_MARK
  }

  function plainKey(key) {
    return key.charAt(0) === KEY_MARK ? key.slice(1) : key;
  }

  DocTree.prototype.jsonKey = function (key, keywords) {
    if (key === null) return "";
    key = plainKey(key);
    return this.tok("k", JSON.stringify(key)) +
      (keywords[key] ? this.tok("kw", keywords[key]) : "") + ": ";
  };

  // What is left of ``budget`` characters once ``value`` is written; negative: it does not fit
  // (stops early, so big subtrees cost nothing).
  function fits(value, budget) {
    if (isScalar(value)) return budget - JSON.stringify(value).length;
    var keys = Object.keys(value);
    budget -= 4;
    for (var i = 0; i < keys.length && budget >= 0; i++) {
      if (!Array.isArray(value)) budget -= keys[i].length + 3;
      budget = fits(value[keys[i]], budget - 2);
    }
    return budget;
  }

  // A short object or array on one line: {"vr": "CS", "Value": ["CT"]}.
  DocTree.prototype.jsonInline = function (value) {
    if (isScalar(value)) return this.jsonScalar(value);
    var self = this;
    if (Array.isArray(value)) {
      return value.length ? "[ " + value.map(function (v) { return self.jsonInline(v); })
        .join(", ") + " ]" : "[]";
    }
    var keys = Object.keys(value);
    return keys.length ? "{ " + keys.map(function (k) {
      return self.tok("k", JSON.stringify(plainKey(k))) + ": " + self.jsonInline(value[k]);
    }).join(", ") + " }" : "{}";
  };

  DocTree.prototype.jsonNode = function (key, value, depth, last, keywords) {
    var comma = last ? "" : ",";
    if (isScalar(value)) {
      this.html.push("<div class=\"ln\">" + this.jsonKey(key, keywords) +
        this.jsonScalar(value) + comma + "</div>");
      return;
    }
    var isArray = Array.isArray(value);
    var keys = isArray ? null : Object.keys(value);
    var items = isArray ? value : keys.map(function (k) { return value[k]; });
    var open = isArray ? "[" : "{", close = isArray ? "]" : "}";
    if (value.vr !== "SQ" && fits(value, COMPACT) >= 0) {
      this.html.push("<div class=\"ln\">" + this.jsonKey(key, keywords) +
        this.jsonInline(value) + comma + "</div>");
      return;
    }
    var count = items.length + (isArray ? (items.length === 1 ? " item" : " items")
      : (items.length === 1 ? " key" : " keys"));
    if (!isArray && typeof value.vr === "string") { // a DICOM JSON element: its VR and size
      var n = Array.isArray(value.Value) ? value.Value.length : 0;
      count = value.vr + " · " + n + (value.vr === "SQ" ? (n === 1 ? " item" : " items")
        : (n === 1 ? " value" : " values"));
    }
    this.open(depth, this.jsonKey(key, keywords) + open, close + comma, count);
    for (var i = 0; i < items.length; i++) {
      this.jsonNode(isArray ? null : keys[i], items[i], depth + 1, i === items.length - 1,
        keywords);
    }
    this.close(close + comma);
  };

  // XML ----------------------------------------------------------------------------
  DocTree.prototype.xmlOpenTag = function (node, selfClosing) {
    var html = "&lt;" + this.tok("t", node.nodeName);
    for (var i = 0; i < node.attributes.length; i++) {
      var attribute = node.attributes[i];
      html += " <span class=\"an\">" + esc(attribute.name) + "</span>=\"" +
        this.tok("av", attribute.value) + "\"";
    }
    return html + (selfClosing ? "/&gt;" : "&gt;");
  };

  function xmlChildren(node) {
    return Array.prototype.filter.call(node.childNodes, function (child) {
      return child.nodeType === 1 || (child.nodeType === 3 && child.nodeValue.trim());
    });
  }

  function isLeaf(node) {
    return !xmlChildren(node).some(function (child) { return child.nodeType === 1; });
  }

  // Characters an element takes on one line (attributes, text, tags).
  function xmlWidth(node) {
    var width = node.nodeName.length * 2 + 5 + node.textContent.trim().length;
    for (var i = 0; i < node.attributes.length; i++) {
      width += node.attributes[i].name.length + node.attributes[i].value.length + 4;
    }
    return width;
  }

  DocTree.prototype.xmlLeaf = function (node) {
    var text = xmlChildren(node).map(function (c) { return c.nodeValue; }).join("");
    return this.xmlOpenTag(node, !text) +
      (text ? this.tok("v v-string", text) + esc("</" + node.nodeName + ">") : "");
  };

  DocTree.prototype.xmlNode = function (node, depth) {
    var children = xmlChildren(node);
    var elements = children.filter(function (child) { return child.nodeType === 1; });
    if (!elements.length) {
      this.html.push("<div class=\"ln\">" + this.xmlLeaf(node) + "</div>");
      return;
    }
    var self = this;
    if (elements.length === children.length && elements.length <= 3 && elements.every(isLeaf) &&
        elements.reduce(function (sum, e) { return sum + xmlWidth(e); }, 0) +
        xmlWidth(node) - node.textContent.trim().length <= 2 * COMPACT) {
      this.html.push("<div class=\"ln\">" + this.xmlOpenTag(node, false) +
        elements.map(function (e) { return self.xmlLeaf(e); }).join("") +
        esc("</" + node.nodeName + ">") + "</div>");
      return;
    }
    var close = "</" + node.nodeName + ">";
    var name = elements[0].nodeName;
    var same = elements.every(function (child) { return child.nodeName === name; });
    var count = elements.length + " " + (same ? name + (elements.length === 1 ? "" : "s")
      : (elements.length === 1 ? "element" : "elements"));
    this.open(depth, this.xmlOpenTag(node, false), close, count);
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child.nodeType === 1) this.xmlNode(child, depth + 1);
      else this.html.push("<div class=\"ln\">" + this.tok("v v-string", child.nodeValue.trim()) +
        "</div>");
    }
    this.close(close);
  };

  var BIG_DOCUMENT = 1500000; // characters: above this, only two levels start open

  DocTree.prototype.build = function (format, text) {
    if (text.length > BIG_DOCUMENT) this.openDepth = 2;
    if (format === "json") {
      var keywordsNode = byId("doc-keywords");
      var keywords = keywordsNode ? JSON.parse(keywordsNode.textContent) : {};
      this.jsonNode(null, parseOrdered(text), 0, true, keywords);
    } else {
      var xml = new DOMParser().parseFromString(text, "application/xml");
      if (xml.getElementsByTagName("parsererror").length) throw new Error("unparsable XML");
      var declaration = /^<\?xml[^>]*\?>/.exec(text);
      if (declaration) this.html.unshift("<div class=\"ln xml-decl\">" + esc(declaration[0]) +
        "</div>");
      this.xmlNode(xml.documentElement, 0);
    }
    this.container.innerHTML = this.html.join("");
    this.html = [];
    this.tokens = Array.prototype.slice.call(this.container.getElementsByClassName("tok"));
  };

  DocTree.prototype.foldBelow = function (depth) {
    this.container.querySelectorAll("details.fold").forEach(function (details) {
      details.open = parseInt(details.dataset.depth, 10) < depth;
    });
  };

  // Search: marks every occurrence in the tokens; Enter / Shift+Enter go through them.
  var TAG = /^\(?([0-9a-f]{4})[,\s]?([0-9a-f]{4})\)?$/i;
  var MAX_MARKS = 5000;

  DocTree.prototype.clear = function () {
    var seen = new Set();
    this.marks.forEach(function (mark) {
      var span = mark.parentNode;
      if (span && !seen.has(span)) { seen.add(span); span.textContent = span.dataset.text; }
    });
    this.marks = [];
    this.current = -1;
  };

  DocTree.prototype.search = function (term) {
    this.clear();
    term = term.trim();
    var tag = TAG.exec(term);
    if (tag) term = (tag[1] + tag[2]).toUpperCase();
    if (!term) return 0;
    var needle = term.toLowerCase();
    for (var i = 0; i < this.tokens.length && this.marks.length < MAX_MARKS; i++) {
      var span = this.tokens[i];
      var text = span.dataset.text !== undefined ? span.dataset.text : span.textContent;
      var lower = text.toLowerCase();
      var at = lower.indexOf(needle);
      if (at < 0) continue;
      span.dataset.text = text;
      span.textContent = "";
      var from = 0;
      while (at >= 0) {
        if (at > from) span.appendChild(document.createTextNode(text.slice(from, at)));
        var mark = el("mark", "hit", text.slice(at, at + needle.length));
        span.appendChild(mark);
        this.marks.push(mark);
        from = at + needle.length;
        at = lower.indexOf(needle, from);
      }
      if (from < text.length) span.appendChild(document.createTextNode(text.slice(from)));
    }
    return this.marks.length;
  };

  DocTree.prototype.go = function (step) {
    if (!this.marks.length) return;
    if (this.current >= 0) this.marks[this.current].classList.remove("current");
    this.current = (this.current + step + this.marks.length) % this.marks.length;
    var mark = this.marks[this.current];
    for (var node = mark.parentNode; node && node !== this.container; node = node.parentNode) {
      if (node.tagName === "DETAILS") node.open = true;
    }
    mark.classList.add("current");
    mark.scrollIntoView({block: "center"});
  };

  function documentView(container) {
    var source = byId("doc-text");
    var tree = new DocTree(container);
    try {
      tree.build(container.dataset.format, source.textContent);
    } catch (error) {
      return; // the plain text stays shown
    }
    container.hidden = false;
    source.hidden = true;
    var input = byId("doc-search");
    var count = byId("doc-count");
    var prev = byId("doc-prev");
    var next = byId("doc-next");
    var timer = null;
    function run() {
      var n = tree.search(input.value);
      var capped = n >= MAX_MARKS ? "+" : "";
      count.textContent = input.value.trim() ? (n ? n + capped + (n === 1 ? " match" :
        " matches") : "no match") : "";
      count.dataset.count = String(n);
      prev.disabled = next.disabled = !n;
      if (n) tree.go(1);
      updatePosition();
    }
    function updatePosition() {
      if (tree.marks.length) {
        count.textContent = (tree.current + 1) + " of " + tree.marks.length +
          (tree.marks.length >= MAX_MARKS ? "+" : "") +
          (tree.marks.length === 1 ? " match" : " matches");
      }
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      clearTimeout(timer);
      if (!tree.marks.length || input.dataset.searched !== input.value) {
        input.dataset.searched = input.value;
        run();
        return;
      }
      tree.go(event.shiftKey ? -1 : 1);
      updatePosition();
    });
    prev.addEventListener("click", function () { tree.go(-1); updatePosition(); });
    next.addEventListener("click", function () { tree.go(1); updatePosition(); });
    document.querySelectorAll("[data-doc-fold]").forEach(function (button) {
      button.disabled = false;
      button.addEventListener("click", function () {
        if (button.dataset.docFold === "expand") tree.foldBelow(Infinity);
        else tree.foldBelow(1);
      });
    });
  }


  var tree = byId("doc-tree");
  if (tree) documentView(tree);
})();
