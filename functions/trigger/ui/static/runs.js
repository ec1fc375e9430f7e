/* The runs table: re-rendered from /ui/runs.json every 2 seconds, same filters. */
"use strict";

(function () {
  var table = document.getElementById("runs");
  if (!table) { return; }
  var query = table.getAttribute("data-query");
  var url = "/ui/runs.json" + (query ? "?" + query : "");

  function row(run) {
    var link = scd.el("a", { href: "/ui/runs/" + run.id },
      [scd.el("code", {}, [run.short_commit || run.id.slice(0, 8)])]);
    return scd.el("tr", { "data-run": run.id }, [
      scd.el("td", {}, [run.app]),
      scd.el("td", {}, [run.event]),
      scd.el("td", {}, [run.branch]),
      scd.el("td", {}, [link, " ", scd.el("span", { "class": "msg" }, [run.message])]),
      scd.el("td", {}, [scd.statusBadge(run.status)]),
      scd.el("td", { "class": "duration" }, [scd.duration(run.duration_s)]),
      scd.el("td", {}, [scd.el("time", { datetime: run.started_at || "" }, [run.started_at || ""])])
    ]);
  }

  scd.poll(url, 2000, function (data) {
    var body = document.createElement("tbody");
    if (!data.runs.length) {
      body.appendChild(scd.el("tr", { "class": "empty" }, [scd.el("td", { colspan: "7" }, ["No runs yet."])]));
    }
    data.runs.forEach(function (run) { body.appendChild(row(run)); });
    table.replaceChild(body, table.tBodies[0]);
  });
})();
