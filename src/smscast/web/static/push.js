// The sign-up page's "Get notifications in this browser" part. First-party, loaded from
// /static (the Content-Security-Policy forbids inline script). Without JavaScript, in a
// browser without service workers or the Push API, or where the workspace has no webpush
// connector, the part stays hidden and the page is the plain SMS form.
//
// Turning on: check the phone and the box of the form above (the server checks again),
// ask the browser's permission, register /join/<slug>/sw.js, subscribe with the
// workspace's VAPID key and post the subscription with the page's CSRF token. Turning
// off: drop the browser's subscription, then tell the server to forget it.
(function () {
  "use strict";

  var section = document.querySelector("[data-push]");
  if (!section || !("serviceWorker" in navigator) || !("PushManager" in window) ||
      !("Notification" in window)) {
    return;
  }
  var slug = section.getAttribute("data-push");
  var base = "/join/" + encodeURIComponent(slug);
  var scope = base + "/";
  var status = section.querySelector("[data-push-status]");
  var onBox = section.querySelector("[data-push-turn-on]");
  var offBox = section.querySelector("[data-push-turn-off]");
  var key = null;

  function say(text) {
    status.textContent = text || "";
  }

  function showSubscribed(subscribed) {
    onBox.hidden = subscribed;
    offBox.hidden = !subscribed;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(
        function (data) { return { ok: response.ok, data: data }; },
        function () { return { ok: false, data: {} }; }
      );
    });
  }

  function keyBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  // The worker's scope is its folder, which does not hold this page, so
  // navigator.serviceWorker.ready would never settle here: wait on the registration.
  function activated(registration) {
    return new Promise(function (resolve) {
      if (registration.active) {
        resolve(registration);
        return;
      }
      var worker = registration.installing || registration.waiting;
      worker.addEventListener("statechange", function () {
        if (worker.state === "activated") {
          resolve(registration);
        }
      });
    });
  }

  function formValues() {
    var form = document.querySelector('[data-testid="sign-up-form"]');
    var phone = form ? form.querySelector('[name="phone"]') : null;
    var agreed = form ? form.querySelector('[name="agreed"]') : null;
    var text = form ? form.querySelector('[name="consent_text"]') : null;
    return {
      phone: phone ? phone.value.trim() : "",
      agreed: agreed ? agreed.checked : false,
      consent_text: text ? text.value : "",
      fields: { phone: phone, agreed: agreed }
    };
  }

  function turnOn() {
    var values = formValues();
    if (!values.phone) {
      say(section.getAttribute("data-need-phone"));
      if (values.fields.phone) { values.fields.phone.focus(); }
      return;
    }
    if (!values.agreed) {
      say(section.getAttribute("data-need-box"));
      if (values.fields.agreed) { values.fields.agreed.focus(); }
      return;
    }
    say("");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        say(section.getAttribute("data-blocked"));
        return null;
      }
      return navigator.serviceWorker.register(base + "/sw.js", { scope: scope })
        .then(activated)
        .then(function (registration) {
          return registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(key)
          });
        })
        .then(function (subscription) {
          return post("/push", {
            subscription: subscription.toJSON(),
            phone: values.phone,
            agreed: values.agreed,
            consent_text: values.consent_text
          }).then(function (answer) {
            if (answer.ok) {
              showSubscribed(true);
              say(section.getAttribute("data-on"));
              return;
            }
            // Refused: the browser must not keep a subscription we do not know of.
            subscription.unsubscribe();
            var errors = (answer.data && answer.data.errors) || [];
            say(errors.length ? errors.map(function (e) { return e.message; }).join(" ")
                              : section.getAttribute("data-failed"));
          });
        });
    }).catch(function () {
      say(section.getAttribute("data-failed"));
    });
  }

  function turnOff() {
    navigator.serviceWorker.getRegistration(scope).then(function (registration) {
      return registration ? registration.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      if (!subscription) {
        return null;
      }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post("/push/unsubscribe", { endpoint: endpoint });
      });
    }).then(function () {
      showSubscribed(false);
      say(section.getAttribute("data-off"));
    }).catch(function () {
      say(section.getAttribute("data-failed"));
    });
  }

  fetch(base + "/push-key", { credentials: "same-origin" }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (data) {
    if (!data || !data.key) {
      return null;
    }
    key = data.key;
    section.hidden = false;
    onBox.querySelector("button").addEventListener("click", turnOn);
    offBox.querySelector("button").addEventListener("click", turnOff);
    return navigator.serviceWorker.getRegistration(scope).then(function (registration) {
      return registration ? registration.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      showSubscribed(Boolean(subscription));
    });
  }).catch(function () {
    section.hidden = true;
  });
})();
