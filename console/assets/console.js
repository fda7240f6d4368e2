// Carepath console: the one script. It keeps live parts of a page current — an element with
// `data-live="<url>"` is reloaded from that URL (a fragment of the same page) whenever the
// server says something the signed-in person may see has changed (`/live`, server-sent
// events saying only `changed`). Every page works without it.
(function () {
  "use strict";
  var live = document.querySelectorAll("[data-live]");
  if (live.length && window.EventSource) {
    var pending = null;
    var refresh = function () {
      pending = null;
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
