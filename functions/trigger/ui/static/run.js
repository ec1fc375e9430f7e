/* A run's page: step logs streamed live (server-sent events), statuses polled every 2 s. */
"use strict";

(function () {
  var section = document.getElementById("run");
  if (!section) { return; }
  var runId = section.getAttribute("data-run");
  var list = document.getElementById("steps");
  var streams = {};

  function base() { return "/ui/runs/" + encodeURIComponent(runId); }

  function follow(item) {
    var step = item.getAttribute("data-step");
    if (streams[step] || item.getAttribute("data-status") === "pending") { return; }
    var pre = item.querySelector("pre.log");
    var source = new EventSource(base() + "/steps/" + encodeURIComponent(step) + "/events");
    streams[step] = source;
    source.addEventListener("line", function (event) {
      var line = JSON.parse(event.data);
      var div = document.createElement("div");
      div.className = "line";
      div.innerHTML = scd.ansiToHtml(line.text) || " ";  /* escaped inside ansiToHtml */
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(div);
      if (atEnd) { pre.scrollTop = pre.scrollHeight; }
    });
    source.addEventListener("end", function (event) {
      source.close();  /* else EventSource reconnects forever */
      var data = JSON.parse(event.data);
      setStatus(item.querySelector("summary .status"), data.status);
    });
  }

  function setStatus(node, status) {
    if (!node || !status) { return; }
    node.className = "status status-" + status;
    node.textContent = status;
  }

  function stepItem(step) {
    var item = list.querySelector('li[data-step="' + CSS.escape(step.id) + '"]');
    if (item) { return item; }
    var empty = list.querySelector("li.empty");
    if (empty) { empty.remove(); }
    item = scd.el("li", { "class": "step", "data-step": step.id, "data-status": step.status }, [
      scd.el("details", { open: "" }, [
        scd.el("summary", {}, [scd.statusBadge(step.status), " ",
          scd.el("span", { "class": "name" }, [step.name]), " ",
          scd.el("span", { "class": "duration" }, [])]),
        scd.el("pre", { "class": "log", "aria-live": "polite" }, [])
      ])
    ]);
    list.appendChild(item);
    return item;
  }

  function update(data) {
    setStatus(document.getElementById("run-status"), data.run.status);
    var bar = document.getElementById("chart-current");
    if (bar) { bar.setAttribute("class", "bar current status-" + data.run.status); }
    document.getElementById("run-duration").textContent = scd.duration(data.run.duration_s);
    document.getElementById("run-message").textContent = data.run.run_message;
    var cancel = document.getElementById("cancel");
    if (cancel) { cancel.disabled = data.run.final; }
    data.steps.forEach(function (step) {
      var item = stepItem(step);
      item.setAttribute("data-status", step.status);
      setStatus(item.querySelector("summary .status"), step.status);
      item.querySelector("summary .duration").textContent = scd.duration(step.duration_s);
      follow(item);
    });
    /* stop once the run and all its steps are final */
    return !(data.run.final && data.steps.every(function (s) { return s.final; }));
  }

  Array.prototype.forEach.call(list.querySelectorAll("li.step"), follow);
  scd.poll(base() + "/state.json", 2000, update);
})();
