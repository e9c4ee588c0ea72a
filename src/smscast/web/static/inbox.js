// The inbox's live parts, on top of a page that lists the tickets without them: the rows,
// the open count and the page's title follow the server's event stream (/inbox/stream,
// with the page's filters), and a browser notification tells of each new text once the
// agent has turned them on with the button (the permission is asked on that click only).
// First-party, loaded from /static (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  var STORE_KEY = "smscast.inbox.notify";
  var stream = null;

  function closeStream() {
    if (stream) {
      stream.close();
      stream = null;
    }
  }

  function notifying() {
    return "Notification" in window && Notification.permission === "granted" &&
      window.localStorage.getItem(STORE_KEY) === "on";
  }

  // The button says what a click does: turn on (asking the browser once) or turn off.
  function setUpButton(root) {
    var button = root.querySelector("[data-notify]");
    if (!button || !("Notification" in window)) {
      return;
    }
    function show() {
      var on = notifying();
      button.textContent = button.getAttribute(on ? "data-label-off" : "data-label-on");
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    button.hidden = false;
    show();
    button.addEventListener("click", function () {
      if (notifying()) {
        window.localStorage.setItem(STORE_KEY, "off");
        show();
        return;
      }
      Notification.requestPermission().then(function (answer) {
        if (answer === "granted") {
          window.localStorage.setItem(STORE_KEY, "on");
        } else {
          announce(root, button.getAttribute("data-blocked"));
        }
        show();
      });
    });
  }

  function announce(root, text) {
    var region = root.querySelector("[data-announce]");
    if (region) {
      region.textContent = text;
    }
  }

  // The latest moment a customer wrote among the rows shown (ISO strings in UTC compare
  // as text).
  function latestInbound(rows) {
    var latest = "";
    rows.querySelectorAll("[data-inbound]").forEach(function (row) {
      var at = row.getAttribute("data-inbound");
      if (at > latest) {
        latest = at;
      }
    });
    return latest;
  }

  function tellOfNewTexts(root, rows, since) {
    var button = root.querySelector("[data-notify]");
    var fresh = [];
    rows.querySelectorAll("[data-inbound]").forEach(function (row) {
      if (since && row.getAttribute("data-inbound") > since) {
        row.classList.add("inbox-row--new");
        fresh.push(row);
      }
    });
    fresh.forEach(function (row) {
      var who = row.querySelector(".inbox-who");
      var preview = row.querySelector("[data-testid='ticket-preview']");
      var title = (button ? button.getAttribute("data-title") : "") + ": " +
        (who ? who.textContent.replace(/\s+/g, " ").trim() : "");
      var body = preview ? preview.textContent.replace(/\s+/g, " ").trim() : "";
      announce(root, title + " " + body);
      if (notifying() && document.visibilityState !== "visible") {
        var link = row.querySelector("a[href]");
        var note = new Notification(title, { body: body, tag: "smscast-ticket-" + row.getAttribute("data-ticket-id") });
        note.addEventListener("click", function () {
          window.focus();
          if (link) {
            window.location.href = link.href;
          }
        });
      }
    });
  }

  function showRows(root, data, since) {
    var rows = root.querySelector("[data-rows]");
    if (!rows) {
      return since;
    }
    // The agent's place is kept: focus returns to the same ticket's link after the swap.
    var focused = rows.contains(document.activeElement) && document.activeElement.closest("[data-ticket-id]");
    var focusedId = focused ? focused.getAttribute("data-ticket-id") : null;
    rows.innerHTML = data.rows;
    if (focusedId) {
      var again = rows.querySelector("[data-ticket-id='" + focusedId + "'] a[href]");
      if (again) {
        again.focus();
      }
    }
    var count = root.querySelector("[data-testid='open-count']");
    if (count) {
      count.innerHTML = data.count;
      count.setAttribute("data-open-count", String(data.open));
    }
    var cut = document.title.indexOf(" · ");
    document.title = data.title + (cut >= 0 ? document.title.slice(cut) : "");
    tellOfNewTexts(root, rows, since);
    var latest = latestInbound(rows);
    return latest > since ? latest : since;
  }

  function openStream(root) {
    closeStream();
    var address = root.getAttribute("data-stream");
    if (!address || typeof EventSource === "undefined") {
      return;
    }
    var rows = root.querySelector("[data-rows]");
    var since = rows ? latestInbound(rows) : "";
    var live = root.querySelector("[data-live]");
    stream = new EventSource(address);
    stream.addEventListener("open", function () {
      if (live) {
        live.hidden = false;
      }
    });
    stream.addEventListener("error", function () {
      if (live) {
        live.hidden = true;
      }
    });
    stream.addEventListener("rows", function (event) {
      since = showRows(root, JSON.parse(event.data), since);
    });
    stream.addEventListener("signed-out", function () {
      closeStream();
      window.location.reload(); // the page itself then sends the reader to sign in
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("inbox");
    if (!root) {
      return;
    }
    setUpButton(root);
    openStream(root);
  });
  window.addEventListener("pagehide", closeStream);
})();
