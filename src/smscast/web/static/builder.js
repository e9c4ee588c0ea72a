// smscast campaign builder: the insert buttons put a variable, the coupon or a tracked
// link where the cursor is in the text (without JavaScript they are submit buttons that
// add it at the end, on the server). The live figures themselves come from htmx.
(function () {
  "use strict";

  function insertAtCursor(field, piece) {
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? start : field.selectionEnd;
    var before = field.value.slice(0, start);
    var spacer = before && !/\s$/.test(before) ? " " : "";
    field.value = before + spacer + piece + field.value.slice(end);
    var cursor = start + spacer.length + piece.length;
    field.focus();
    field.setSelectionRange(cursor, cursor);
    // Tell htmx (and anyone listening) that the text changed, so the figures follow.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function linkPiece(form) {
    var url = form.querySelector("#link_url");
    var address = url && url.value.trim() ? url.value.trim().replace(/"/g, "%22") : "https://";
    return '{{ link("' + address + '") }}';
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-insert], [data-insert-link]") : null;
    if (!button || !button.form) {
      return;
    }
    var body = button.form.querySelector("[data-builder-body]");
    if (!body) {
      return;
    }
    event.preventDefault();
    var piece = button.hasAttribute("data-insert-link") ? linkPiece(button.form) : button.getAttribute("data-insert");
    insertAtCursor(body, piece);
  });
})();
