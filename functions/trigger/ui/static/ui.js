/* scd dashboard helpers: ANSI colours to HTML, formatting, safe DOM building. */
"use strict";

var scd = (function () {
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ESC[c]; });
  }

  /* ANSI SGR to HTML. The text is escaped first, so only our own <span> tags are markup.
     Understood: 0 reset, 1 bold, 22 normal, 30-37 and 90-97 colours, 39 default colour;
     38/48 (256-colour, RGB) are skipped with their arguments; any other escape
     sequence is dropped. */
  function ansiToHtml(text) {
    var out = "", bold = false, colour = null, open = false;
    var parts = String(text).split(/\x1b\[([0-9;]*)([A-Za-z])/);
    for (var i = 0; i < parts.length; i += 3) {
      if (parts[i]) {
        out += escapeHtml(parts[i].replace(/\x1b/g, ""));
      }
      if (i + 2 >= parts.length || parts[i + 2] !== "m") { continue; }
      var codes = parts[i + 1] === "" ? [0] : parts[i + 1].split(";").map(Number);
      for (var k = 0; k < codes.length; k++) {
        var code = codes[k];
        if (code === 0) { bold = false; colour = null; }
        else if (code === 1) { bold = true; }
        else if (code === 22) { bold = false; }
        else if (code === 39) { colour = null; }
        else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) { colour = code; }
        else if (code === 38 || code === 48) {
          /* 256-colour or RGB: skip its arguments, so they are not read as codes */
          k += codes[k + 1] === 5 ? 2 : codes[k + 1] === 2 ? 4 : 0;
        }
      }
      if (open) { out += "</span>"; open = false; }
      var classes = [];
      if (bold) { classes.push("ansi-bold"); }
      if (colour !== null) { classes.push("ansi-" + colour); }
      if (classes.length) { out += '<span class="' + classes.join(" ") + '">'; open = true; }
    }
    if (open) { out += "</span>"; }
    return out;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || seconds === "") { return ""; }
    return seconds + "s";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function statusBadge(status) {
    return el("span", { "class": "status status-" + status }, [status]);
  }

  function poll(url, every, onData) {
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && onData(data) === false) { return; } schedule(); })
        .catch(schedule);
    }
    function schedule() { setTimeout(tick, every); }
    schedule();
  }

  return { escapeHtml: escapeHtml, ansiToHtml: ansiToHtml, duration: duration, el: el,
           statusBadge: statusBadge, poll: poll };
})();
