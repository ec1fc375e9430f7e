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

  /* Durations and ages in the CLI's one format (functions.client.render):
     4.2s, 1m 12s, 2h 01m; 12s ago, 5m ago, 3h ago, 2d ago. */
  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || seconds === "" || seconds < 0) { return ""; }
    if (seconds < 60) { return seconds.toFixed(1) + "s"; }
    var whole = Math.floor(seconds);
    if (whole < 3600) { return Math.floor(whole / 60) + "m " + pad2(whole % 60) + "s"; }
    return Math.floor(whole / 3600) + "h " + pad2(Math.floor(whole % 3600 / 60)) + "m";
  }

  function ago(iso, now) {
    if (!iso) { return ""; }
    var delta = ((now || Date.now()) - Date.parse(iso)) / 1000;
    if (isNaN(delta)) { return ""; }
    if (delta < 0) { return "just now"; }
    var units = [["d", 86400], ["h", 3600], ["m", 60]];
    for (var i = 0; i < units.length; i++) {
      if (delta >= units[i][1]) { return Math.floor(delta / units[i][1]) + units[i][0] + " ago"; }
    }
    return Math.floor(delta) + "s ago";
  }

  /* The exact time in the viewer's own zone, for a hover title. */
  function exact(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) { return ""; }
    var zone = "";
    try { zone = " " + Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = ""; }
    return when.toLocaleString() + zone;
  }

  /* Every <time datetime> under root: relative text, exact local time on hover. */
  function localizeTimes(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("time[datetime]"), function (t) {
      var iso = t.getAttribute("datetime");
      if (!iso) { return; }
      t.textContent = ago(iso);
      t.title = exact(iso);
    });
  }

  function timeEl(iso) {
    var t = el("time", { datetime: iso }, [ago(iso)]);
    t.title = exact(iso);
    return t;
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

  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); });
  setInterval(function () { localizeTimes(document); }, 15000);

  return { escapeHtml: escapeHtml, ansiToHtml: ansiToHtml, duration: duration, ago: ago,
           exact: exact, localizeTimes: localizeTimes, timeEl: timeEl, el: el,
           statusBadge: statusBadge, poll: poll };
})();
