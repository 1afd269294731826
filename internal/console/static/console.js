// dsgate console: live refresh of pages marked data-live, and copy
// buttons. Pages work without this script; it only saves reloads.
(function () {
  "use strict";

  // Copy the text of the element named by data-copy.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-copy]");
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      btn.classList.add("copied");
      setTimeout(function () { btn.classList.remove("copied"); }, 1500);
    });
  });

  // Refresh <main data-live="N"> every N seconds with the same page,
  // fetched again (same origin, with the session cookie), while the tab is
  // visible and no form field has focus.
  var main = document.querySelector("main[data-live]");
  if (!main) return;
  var every = Math.max(2, parseInt(main.getAttribute("data-live"), 10) || 5) * 1000;
  function refresh() {
    if (document.hidden || (document.activeElement && document.activeElement.closest("form"))) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Console-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.querySelector("main[data-live]");
        if (next) main.replaceChildren.apply(main, Array.from(next.childNodes));
      })
      .catch(function () {});
  }
  setInterval(refresh, every);
})();
