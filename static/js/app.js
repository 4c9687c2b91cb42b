// What inline handlers used to do. The Content-Security-Policy runs no onclick="…" and
// no javascript: link, so the pages carry data attributes and this one listener acts:
//   data-confirm="…"        ask before a delete or an irreversible step; cancel stops it
//   data-model-action="x"   Flask-Admin's bulk action x on the ticked rows
//   data-inline-add="id"    add a row to the inline form id
//   data-back               go back one page (the link's href is the fallback)
// Placeholder links (href="#" or "javascript:void(0)" in Flask-Admin's menus) are kept from
// navigating. The listener captures, so it acts even where a menu stops the click's
// propagation (Flask-Admin's multi-level dropdown does).
(function () {
  document.addEventListener("click", function (event) {
    const el = event.target.closest
      ? event.target.closest("[data-confirm], [data-model-action], [data-inline-add], [data-back], a[href='#'], a[href^='javascript:']")
      : null;
    if (!el) return;
    if (el.hasAttribute("data-confirm")) {
      if (!window.confirm(el.getAttribute("data-confirm"))) event.preventDefault();
      return;
    }
    event.preventDefault();  // the rest are not links to follow
    if (el.hasAttribute("data-model-action")) {
      window.modelActions.execute(el.getAttribute("data-model-action"));
    } else if (el.hasAttribute("data-inline-add")) {
      window.faForm.addInlineField(el, el.getAttribute("data-inline-add"));
    } else if (el.hasAttribute("data-back")) {
      window.history.back();
    }
  }, true);
})();
