"""The top menu, rendered once per set of entries a user can see.

Flask-Admin spends more time on the menu than on a page of rows, and the menu is the
same for everyone who sees the same entries, in the same language, on the same page.
The key is what is actually visible — not the role standing in for it — so a view whose
visibility depends on something else still gets the right menu.
"""

from __future__ import annotations

from typing import Any, Callable

from markupsafe import Markup

_MENUS: dict[tuple, Markup] = {}
LIMIT = 2000  # distinct menus kept (pages × kinds of user × languages: a few hundred)


def cached_menu(view: Any, render: Callable[[], str]) -> Markup:
    from flask_babel import get_locale

    visible = tuple(v.endpoint for v in view.admin._views if v.is_accessible() and v.is_visible())
    key = (str(get_locale()), getattr(view, "endpoint", None), visible)
    html = _MENUS.get(key)
    if html is None:
        html = Markup(render())
        if len(_MENUS) < LIMIT:
            _MENUS[key] = html
    return html
