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

/* H: phone layouts (issue 20).
   The menu on a narrow screen is one row that scrolls sideways: keep the current page's item in view and mark the
   edges where more items are (.more-left / .more-right: a fade with an arrow, creditplan.css).
   Tables marked `stack` become cards on a phone (creditplan.css): each cell without a data-label gets its column's
   name from the table's header; a cell with long text gets .stack-long (its name above it, the text left-aligned).
   Run on load and on every HTMX swap (filtered rows). */
(function () {
  "use strict";
  function menu() {
    var nav = document.querySelector("header.top nav");
    if (!nav) return;
    nav.classList.add("js-menu");
    function edges() {
      var max = nav.scrollWidth - nav.clientWidth;
      nav.classList.toggle("more-left", nav.scrollLeft > 2);
      nav.classList.toggle("more-right", max - nav.scrollLeft > 2);
    }
    var active = nav.querySelector("a.active");
    if (active && nav.scrollWidth > nav.clientWidth) {
      var a = active.getBoundingClientRect(), n = nav.getBoundingClientRect();
      if (a.left < n.left + 28 || a.right > n.right - 28) {
        nav.scrollLeft += a.left - n.left - (n.width - a.width) / 2;
      }
    }
    edges();
    nav.addEventListener("scroll", edges, {passive: true});
    window.addEventListener("resize", edges);
  }
  function width(text) {  // about how many Latin letters wide: a Chinese character counts two
    var w = 0;
    for (var i = 0; i < text.length; i++) w += text.charCodeAt(i) > 0x2e80 ? 2 : 1;
    return w;
  }
  function label(root) {
    (root || document).querySelectorAll("table.stack").forEach(function (table) {
      var names = [];
      var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
      if (head) {
        Array.prototype.forEach.call(head.cells, function (th) {
          for (var i = 0; i < (th.colSpan || 1); i++) names.push(th.textContent.replace(/[↑↓]/g, "").trim());
        });
      }
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var col = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            if (!cell.hasAttribute("data-label") && names[col] && (cell.colSpan || 1) === 1) {
              cell.setAttribute("data-label", names[col]);
            }
            if (width(cell.textContent.trim()) > 40) cell.classList.add("stack-long");
            col += cell.colSpan || 1;
          });
        });
      });
    });
  }
  function ready() { menu(); label(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  document.addEventListener("htmx:afterSwap", function () { label(document); });
})();

/* A "Back" link (data-back) goes back in the browser's history; without a history (or a script) it leads home. */
document.addEventListener("click", function (event) {
  var link = event.target instanceof Element ? event.target.closest("a[data-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
