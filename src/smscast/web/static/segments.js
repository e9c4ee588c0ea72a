// Segments editor: "Show in the expression" puts the cursor where the parser stopped.
// First-party, loaded from /static (the Content-Security-Policy forbids inline script);
// the live count itself is htmx (hx-get on the expression), no code here.
(function () {
  "use strict";

  // The offset in `text` of 1-based `line` and `column`, as the parser counts them.
  function offsetOf(text, line, column) {
    var lines = text.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) {
      offset += lines[i].length + 1;
    }
    return Math.min(offset + column - 1, text.length);
  }

  function revealButtons(root) {
    root.querySelectorAll("button[data-goto-line]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-goto-line]") : null;
    var field = document.getElementById("expression");
    if (!button || !(field instanceof HTMLTextAreaElement)) {
      return;
    }
    var at = offsetOf(
      field.value,
      parseInt(button.getAttribute("data-goto-line"), 10),
      parseInt(button.getAttribute("data-goto-column"), 10)
    );
    field.focus();
    field.setSelectionRange(at, Math.min(at + 1, field.value.length));
  });

  // The button needs this script: shown only where it works.
  document.addEventListener("DOMContentLoaded", function () { revealButtons(document); });
  document.addEventListener("htmx:afterSwap", function (event) { revealButtons(event.target); });
})();
