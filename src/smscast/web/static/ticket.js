// One ticket, live: the conversation follows the server's stream (/inbox/<id>/stream),
// other agents typing a reply show as "Ola is replying…", and this agent's typing is
// told to the server every few seconds (/inbox/<id>/typing). A picked saved reply is
// filled in by htmx (the reply box swapped); choosing one in the list fills it at once.
// First-party, loaded from /static (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  var TYPING_EVERY_MS = 4000; // the server keeps a mark 10 s: renewed well before
  var lastTyping = 0;
  var pending = false;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function live() {
    return document.getElementById("ticket-live");
  }

  // The conversation is fetched again when its version moved, unless the agent is
  // using a control inside it (the assignee list): then when they leave it.
  function refresh(root) {
    var region = live();
    if (!region || !window.htmx) {
      return;
    }
    if (region.contains(document.activeElement) && document.activeElement !== document.body) {
      pending = true;
      return;
    }
    pending = false;
    window.htmx.ajax("GET", root.getAttribute("data-live"), { target: "#ticket-live", swap: "outerHTML" });
  }

  function showReplying(text) {
    var mark = document.querySelector('[data-testid="replying"]');
    if (!mark) {
      return;
    }
    mark.textContent = text;
    mark.hidden = !text;
  }

  function openStream(root) {
    var address = root.getAttribute("data-stream");
    if (!address || typeof EventSource === "undefined") {
      return;
    }
    var stream = new EventSource(address);
    stream.addEventListener("ticket", function (event) {
      var data = JSON.parse(event.data);
      var region = live();
      if (region && region.getAttribute("data-version") !== data.version) {
        refresh(root);
      }
      showReplying(data.replying || "");
    });
    stream.addEventListener("signed-out", function () {
      stream.close();
    });
    window.addEventListener("pagehide", function () {
      stream.close();
    });
  }

  function tellTyping(root) {
    var address = root.getAttribute("data-typing");
    var now = Date.now();
    if (!address || now - lastTyping < TYPING_EVERY_MS) {
      return;
    }
    lastTyping = now;
    fetch(address, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken() },
      credentials: "same-origin",
    }).catch(function () {
      lastTyping = 0; // try again on the next key
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector(".ticket[data-stream]");
    if (!root) {
      return;
    }
    openStream(root);
    document.addEventListener("input", function (event) {
      if (event.target && event.target.id === "reply" && event.target.value.trim()) {
        tellTyping(root);
      }
    });
    // Choosing a saved reply fills the box at once (its button stays for keyboards).
    document.addEventListener("change", function (event) {
      if (event.target && event.target.id === "saved_reply" && event.target.value) {
        var button = document.querySelector("[data-fill]");
        if (button) {
          button.click();
        }
      }
    });
    document.addEventListener("focusout", function () {
      setTimeout(function () {
        var region = live();
        if (pending && region && !region.contains(document.activeElement)) {
          refresh(root);
        }
      }, 0);
    });
    // After a saved reply filled the box: the cursor in the text, ready to edit.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var path = event.detail.pathInfo ? event.detail.pathInfo.requestPath : "";
      if (/\/fill$/.test(path)) {
        var box = document.getElementById("reply");
        if (box) {
          box.focus();
        }
      }
    });
  });
})();
