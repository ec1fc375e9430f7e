/* A run's page: step logs streamed live (server-sent events) into numbered lines,
   statuses polled every 2 s. A step's log loads when its step is opened: the page
   opens the first failed step (or the running ones), as GitHub Actions does.
   #step-ID-L12 in the address opens that step and highlights line 12. */
"use strict";

(function () {
  var section = document.getElementById("run");
  if (!section) { return; }
  var runId = section.getAttribute("data-run");
  var list = document.getElementById("steps");
  var streams = {}, counts = {}, seenRunning = {};
  var target = null;  /* {step, line} from the address, until that line arrives */

  function base() { return "/ui/runs/" + encodeURIComponent(runId); }
  function stepOf(item) { return item.getAttribute("data-step"); }
  function logOf(item) { return item.querySelector("div.log"); }
  function following(item) { var box = item.querySelector("input.follow"); return box && box.checked; }

  /* The log keeps no stream marker (a step's stdout and stderr share one pipe), so
     what is marked is a line that says it is an error or a warning. */
  var ERROR = /^(?:\x1b\[[0-9;]*m)*(?:error|fatal)\b|^::error|^##\[error\]/i;
  var WARNING = /^(?:\x1b\[[0-9;]*m)*warning\b|^::warning|^##\[warning\]/i;

  function addLine(item, text) {
    var step = stepOf(item);
    var n = (counts[step] || 0) + 1;
    counts[step] = n;
    var id = "step-" + step + "-L" + n;
    var kind = ERROR.test(text) ? " line-error" : WARNING.test(text) ? " line-warning" : "";
    var div = scd.el("div", { "class": "line" + kind, id: id }, [
      scd.el("a", { "class": "ln", href: "#" + id, "aria-label": "line " + n }, [String(n)])]);
    var span = document.createElement("span");
    span.className = "text";
    span.innerHTML = scd.ansiToHtml(text) || " ";  /* escaped inside ansiToHtml */
    div.appendChild(span);
    var box = logOf(item);
    box.appendChild(div);
    if (following(item)) { box.scrollTop = box.scrollHeight; }
    markFind(item, div);
    if (target && target.step === step && target.line === n) { highlight(div); target = null; }
  }

  function load(item) {
    var step = stepOf(item), status = item.getAttribute("data-status");
    if (streams[step] || status === "pending" || status === "queued") { return; }
    var source = new EventSource(base() + "/steps/" + encodeURIComponent(step) + "/events");
    streams[step] = source;
    source.addEventListener("line", function (event) { addLine(item, JSON.parse(event.data).text); });
    source.addEventListener("end", function (event) {
      source.close();  /* else EventSource reconnects forever */
      var data = JSON.parse(event.data);
      setStatus(item.querySelector("summary .status"), data.status);
      item.setAttribute("data-status", data.status);
    });
  }

  function setStatus(node, status) {
    if (!node || !status) { return; }
    node.className = "status status-" + status;
    node.textContent = status;
  }

  /* -- line links and highlight ----------------------------------------------- */

  function highlight(line) {
    Array.prototype.forEach.call(document.querySelectorAll(".line.hl"), function (l) {
      l.classList.remove("hl");
    });
    line.classList.add("hl");
    var item = line.closest("li.step");
    var box = item && item.querySelector("input.follow");
    if (box) { box.checked = false; }
    line.scrollIntoView({ block: "center" });
  }

  function openStep(item) {
    var details = item.querySelector("details");
    if (!details.open) { details.open = true; }
    load(item);
  }

  function goToHash() {
    var hash = decodeURIComponent(window.location.hash || "");
    var found = /^#step-(.+)-L(\d+)$/.exec(hash) || /^#step-(.+)$/.exec(hash);
    if (!found) { return false; }
    var item = list.querySelector('li[data-step="' + CSS.escape(found[1]) + '"]');
    if (!item) { return false; }
    openStep(item);
    if (!found[2]) { item.scrollIntoView({ block: "start" }); return true; }
    var line = document.getElementById("step-" + found[1] + "-L" + found[2]);
    if (line) { highlight(line); } else { target = { step: found[1], line: Number(found[2]) }; }
    return true;
  }

  /* -- find in log ------------------------------------------------------------- */

  function query(item) {
    var input = item.querySelector("input.find");
    return input ? input.value.toLowerCase() : "";
  }

  function markFind(item, line) {
    var q = query(item);
    var hit = q !== "" && line.querySelector(".text").textContent.toLowerCase().indexOf(q) >= 0;
    line.classList.toggle("match", hit);
    if (q !== "") { countFind(item); }
  }

  function countFind(item) {
    var n = logOf(item).querySelectorAll(".line.match").length;
    item.querySelector(".find-count").textContent = query(item) ? n + (n === 1 ? " match" : " matches") : "";
  }

  function find(item, step) {
    var matches = logOf(item).querySelectorAll(".line.match");
    if (!matches.length) { return; }
    var current = logOf(item).querySelector(".line.current");
    var index = Array.prototype.indexOf.call(matches, current);
    if (current) { current.classList.remove("current"); }
    /* step 0: the first match (a new search); 1 or -1: the next or previous one */
    var next = step === 0 ? matches[0] : matches[(index + step + matches.length) % matches.length];
    next.classList.add("current");
    var box = item.querySelector("input.follow");
    if (box) { box.checked = false; }
    next.scrollIntoView({ block: "nearest" });
  }

  function wire(item) {
    var details = item.querySelector("details");
    details.addEventListener("toggle", function () { if (details.open) { load(item); } });
    var input = item.querySelector("input.find");
    input.addEventListener("input", function () {
      Array.prototype.forEach.call(logOf(item).querySelectorAll(".line"), function (line) {
        line.classList.remove("current");
        markFind(item, line);
      });
      countFind(item);
      find(item, 0);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); find(item, event.shiftKey ? -1 : 1); }
    });
    var box = logOf(item);
    box.addEventListener("scroll", function () {
      /* scrolling up stops following; back at the end, it follows again */
      var follow = item.querySelector("input.follow");
      if (item.getAttribute("data-status") !== "running") { return; }
      follow.checked = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    });
    item.querySelector("input.follow").addEventListener("change", function (event) {
      if (event.target.checked) { box.scrollTop = box.scrollHeight; }
    });
  }

  /* -- live state -------------------------------------------------------------- */

  function stepItem(step) {
    var item = list.querySelector('li[data-step="' + CSS.escape(step.id) + '"]');
    if (item) { return item; }
    var empty = list.querySelector("li.empty");
    if (empty) { empty.remove(); }
    var raw = base() + "/steps/" + encodeURIComponent(step.id) + "/log.txt";
    item = scd.el("li", { "class": "step", id: "step-" + step.id, "data-step": step.id,
                          "data-status": step.status }, [
      scd.el("details", {}, [
        scd.el("summary", {}, [scd.statusBadge(step.status), " ",
          scd.el("span", { "class": "name" }, [step.name]), " ",
          scd.el("span", { "class": "duration" }, []), " ",
          scd.el("span", { "class": "usage" }, [])]),
        scd.el("div", { "class": "log-tools" }, [
          scd.el("label", { "class": "follow-toggle" }, [
            scd.el("input", { type: "checkbox", "class": "follow" }, []), " Follow"]),
          scd.el("input", { type: "search", "class": "find", placeholder: "Find in log",
                            "aria-label": "Find in the log of " + step.name }, []),
          scd.el("span", { "class": "find-count", "aria-live": "polite" }, []),
          scd.el("a", { "class": "raw", href: raw, download: "" }, ["Raw log"])]),
        scd.el("div", { "class": "log", role: "log" }, [])
      ])
    ]);
    list.appendChild(item);
    wire(item);
    return item;
  }

  function updateRun(run) {
    setStatus(document.getElementById("run-status"), run.status);
    var bar = document.getElementById("chart-current");
    if (bar) { bar.setAttribute("class", "bar current status-" + run.status); }
    var took = scd.duration(run.duration_s);
    document.getElementById("run-duration").textContent =
      took ? (run.final ? "took " : "running for ") + took : "";
    var started = document.getElementById("run-started");
    if (run.started_at && !started.querySelector("time")) {
      started.replaceChildren(scd.timeEl(run.started_at));
    }
    var commit = document.getElementById("run-commit");
    if (run.commit && !commit.querySelector("code")) {
      commit.replaceChildren(scd.el("code", {}, [run.short_commit]));
    }
    var note = document.getElementById("run-message");
    note.textContent = run.run_message;
    note.hidden = document.getElementById("run-message-label").hidden = !run.run_message;
    if (run.usage && run.usage.text) {
      document.getElementById("run-usage").textContent = run.usage.text;
    }
    var cancel = document.getElementById("cancel");
    if (cancel) { cancel.disabled = run.final; }
  }

  /* the DAG: redrawn from the layout the server computed, when it changed */
  var drawnDag = "";
  function drawDag(dag) {
    var text = JSON.stringify(dag);
    if (text === drawnDag) { return; }
    drawnDag = text;
    var svg = document.getElementById("dag");
    document.getElementById("dag-section").hidden = !dag;
    if (!dag) { return; }
    var ns = "http://www.w3.org/2000/svg";
    function node(name, attrs) {
      var el = document.createElementNS(ns, name);
      Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
      return el;
    }
    svg.setAttribute("width", dag.width);
    svg.setAttribute("height", dag.height);
    svg.setAttribute("viewBox", "0 0 " + dag.width + " " + dag.height);
    var parts = dag.edges.map(function (e) {
      return node("line", { "class": "edge", x1: e.x1, y1: e.y1, x2: e.x2, y2: e.y2 });
    });
    dag.boxes.forEach(function (b) {
      var g = node("g", { "class": "task", "data-task": b.id });
      var rect = node("rect", { "class": "box status-" + b.status, x: b.x, y: b.y,
                                width: b.w, height: b.h, rx: 4 });
      var title = node("title", {});
      title.textContent = b.id + ": " + b.status;
      rect.appendChild(title);
      var label = node("text", { x: b.x + 8, y: b.y + 19 });
      label.textContent = b.label;
      g.appendChild(rect);
      g.appendChild(label);
      parts.push(g);
    });
    svg.replaceChildren.apply(svg, parts);
  }

  function update(data) {
    updateRun(data.run);
    drawDag(data.dag);
    data.steps.forEach(function (step) {
      var item = stepItem(step);
      item.setAttribute("data-status", step.status);
      setStatus(item.querySelector("summary .status"), step.status);
      item.querySelector("summary .duration").textContent = scd.duration(step.duration_s);
      item.querySelector("summary .usage").textContent = step.usage;
      if (step.status === "running" && !seenRunning[step.id]) {
        seenRunning[step.id] = true;  /* a step that starts opens and follows its tail */
        item.querySelector("input.follow").checked = true;
        openStep(item);
      }
      if (item.querySelector("details").open) { load(item); }
    });
    /* stop once the run and all its steps are final */
    return !(data.run.final && data.steps.every(function (s) { return s.final; }));
  }

  Array.prototype.forEach.call(list.querySelectorAll("li.step"), function (item) {
    wire(item);
    if (item.getAttribute("data-status") === "running") {
      seenRunning[stepOf(item)] = true;
      item.querySelector("input.follow").checked = true;
    }
    if (item.querySelector("details").open) { load(item); }
  });
  if (!goToHash()) {
    var focus = section.getAttribute("data-focus");
    var first = focus && list.querySelector('li[data-step="' + CSS.escape(focus) + '"]');
    if (first) { first.scrollIntoView({ block: "start" }); }
  }
  window.addEventListener("hashchange", goToHash);
  scd.poll(base() + "/state.json", 2000, update);
})();
