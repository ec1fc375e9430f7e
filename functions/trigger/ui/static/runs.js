/* The runs table: re-rendered from /ui/runs.json every 2 seconds, same filters. */
"use strict";

(function () {
  var table = document.getElementById("runs");
  if (!table) { return; }
  var query = table.getAttribute("data-query");
  var url = "/ui/runs.json" + (query ? "?" + query : "");

  function row(run) {
    var link = scd.el("a", { href: "/ui/runs/" + run.id }, [
      scd.el("span", { "class": "app" }, [run.app]), " ",
      scd.el("span", { "class": "label" }, [run.label])]);
    var when = run.started_at || run.created_at;
    return scd.el("tr", { "data-run": run.id }, [
      scd.el("td", { "class": "what" }, [link, scd.el("span", { "class": "msg" }, [run.message])]),
      scd.el("td", {}, [scd.statusBadge(run.status)]),
      scd.el("td", { "class": "event" }, [run.event + (run.branch ? " · " + run.branch : "")]),
      scd.el("td", { "class": "commit" }, run.commit ? [scd.el("code", {}, [run.short_commit])] : []),
      scd.el("td", { "class": "duration" }, [scd.duration(run.duration_s)]),
      scd.el("td", {}, when ? [scd.timeEl(when)] : [])
    ]);
  }

  scd.poll(url, 2000, function (data) {
    var body = document.createElement("tbody");
    if (!data.runs.length) {
      body.appendChild(scd.el("tr", { "class": "empty" }, [scd.el("td", { colspan: "6" }, ["No runs yet."])]));
    }
    data.runs.forEach(function (run) { body.appendChild(row(run)); });
    table.replaceChild(body, table.tBodies[0]);
  });
})();
