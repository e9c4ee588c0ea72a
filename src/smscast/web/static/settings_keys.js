// Settings: the copy button beside a secret shown once (an API key, a webhook's signing
// secret). First-party, loaded from /static (the Content-Security-Policy forbids inline
// script). Without JavaScript the button stays hidden and the field is there to select
// and copy; where the clipboard is refused, the text is selected and the page says so.
(function () {
  "use strict";

  function say(id, text) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) {
      status.textContent = text;
    }
  }

  function selectForCopy(field, button) {
    field.focus();
    field.select();
    say(button.getAttribute("data-copy"), button.getAttribute("data-fallback"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!(field instanceof HTMLInputElement)) {
      return;
    }
    if (!navigator.clipboard || !window.isSecureContext) {
      selectForCopy(field, button);
      return;
    }
    navigator.clipboard.writeText(field.value).then(
      function () { say(button.getAttribute("data-copy"), button.getAttribute("data-copied")); },
      function () { selectForCopy(field, button); }
    );
  });

  // A click in the field selects the whole secret, ready to copy by hand.
  document.addEventListener("focusin", function (event) {
    if (event.target instanceof HTMLInputElement && event.target.classList.contains("secret__value")) {
      event.target.select();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  });
})();
