/* The apps page: copy a webhook URL to the clipboard. */
"use strict";

(function () {
  function copied(button, ok) {
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  function fallback(text) {
    /* execCommand needs a selection: a hidden text area, selected and removed again */
    var area = scd.el("textarea", { "class": "offscreen", readonly: "" }, [text]);
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button, true); },
          function () { copied(button, fallback(text)); });
      } else {
        copied(button, fallback(text));
      }
    });
  });
})();
