/* creditplan's few behaviours on every page (no inline script: the pages keep a strict content security policy).

   Confirmation: a form (or a button) with data-confirm="…" asks before it is sent; Cancel sends nothing.
   Busy buttons: once a form is sent, its submit buttons are disabled and marked busy until the page answers, so
   work cannot be started twice; an HTMX request disables the element that sent it (hx-disabled-elt) the same way.
*/
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get") || form.hasAttribute("data-no-busy")) return;
    // Disable after the browser has read the form (a disabled submitter would drop its name and value).
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
      });
      form.classList.add("busy");
    }, 0);
  });
  // A page restored from the back/forward cache shows its buttons enabled again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.busy").forEach(function (form) {
      form.classList.remove("busy");
      form.querySelectorAll("[aria-busy=true]").forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); });
    });
  });
  document.addEventListener("htmx:confirm", function (event) {
    var el = event.detail.elt;
    var question = el && el.getAttribute && el.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
