// Carepath console: the one script. It keeps live parts of a page current — an element with
// `data-live="<url>"` is reloaded from that URL (a fragment of the same page), and the
// header's count of unread notifications (`a.notifications[data-unread="<url>"]`, the number
// as text) asked again, whenever the server says something the signed-in person may see has
// changed (`/live`, server-sent events saying only `changed`). Every page works without it.
(function () {
  "use strict";
  var live = document.querySelectorAll("[data-live]");
  var badge = document.querySelector("a.notifications[data-unread]");
  var recount = function () {
    fetch(badge.getAttribute("data-unread"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        var n = text === null ? NaN : parseInt(text, 10);
        if (isNaN(n)) { return; }
        var count = badge.querySelector(".count");
        var before = parseInt(badge.getAttribute("data-count") || (count ? count.textContent : "0"), 10);
        var said = document.querySelector(".unread-said");
        if (said && n > before) {
          said.textContent = n === 1 ? "You have 1 unread notification" :
            "You have " + n + " unread notifications";
        }
        if (count) {
          count.textContent = String(n);
          count.hidden = n === 0;
        }
        badge.setAttribute("aria-label",
          n === 0 ? "Notifications: none unread" : "Notifications: " + n + " unread");
        badge.setAttribute("data-count", String(n));
      });
  };
  if ((live.length || badge) && window.EventSource) {
    var pending = null;
    var refresh = function () {
      pending = null;
      if (badge) { recount(); }
      live.forEach(function (el) {
        fetch(el.getAttribute("data-live"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html !== null) {
              el.innerHTML = html;
              el.setAttribute("data-refreshed", String(Date.now()));
            }
          });
      });
    };
    var source = new EventSource("/live");
    source.addEventListener("changed", function () {
      if (!pending) { pending = setTimeout(refresh, 300); }
    });
  }
  // A button that asks first: `data-confirm="question"`.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();

// The idle warning. The header says until when the session lasts if the person does nothing
// (`span.session[data-idle-ends]`, a moment in RFC 3339); two minutes before it, a notice says
// so, and at that moment the page goes to sign-in (the server has ended the session by then:
// what was on the screen, client records among it, does not stay there).
(function () {
  "use strict";
  var span = document.querySelector("span.session[data-idle-ends]");
  if (!span) { return; }
  var ends = Date.parse(span.getAttribute("data-idle-ends"));
  if (isNaN(ends)) { return; }
  var WARN_BEFORE = 2 * 60 * 1000;
  // Said in the person's time zone (their organization's), as the header says it.
  var zone = span.getAttribute("data-zone") || "UTC";
  var at;
  try {
    at = new Date(ends).toLocaleTimeString("en-US", {
      hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone, timeZoneName: "short"
    });
  } catch (e) {
    at = new Date(ends).toISOString().substring(11, 16) + " UTC";
  }
  var warned = false;
  var check = function () {
    var now = Date.now();
    if (now >= ends) {
      window.clearInterval(timer);
      window.location.assign("/sign-in");
      return;
    }
    if (!warned && now >= ends - WARN_BEFORE) {
      warned = true;
      var notice = document.createElement("p");
      notice.className = "notice problem idle-warning";
      notice.setAttribute("role", "alert");
      notice.textContent = "Your session ends at " + at +
        " unless you continue: reload or open a page to stay signed in";
      var main = document.querySelector("main") || document.body;
      main.insertBefore(notice, main.firstChild);
    }
  };
  // Checked every few seconds rather than one long timer, which a sleeping computer delays.
  var timer = window.setInterval(check, 5000);
  check();
})();
