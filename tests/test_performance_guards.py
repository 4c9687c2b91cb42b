"""What keeps list pages fast: the number of statements does not grow with the page."""

from __future__ import annotations

import pytest

from .helpers import count_statements


@pytest.mark.parametrize("url", ["/admin/estate/", "/admin/community/", "/admin/app_user/"])
def test_list_statements_do_not_grow_with_page_size(app, client_for, url):
    c = client_for("admin")
    c.get(f"{url}?page_size=20")  # warm caches (user loader, etc.)
    counts = {}
    for size in (20, 100):
        with count_statements(app) as statements:
            assert c.get(f"{url}?page_size={size}").status_code == 200
        counts[size] = len(statements)
    assert counts[20] == counts[100], counts


def test_estate_list_joins_its_community_in_the_same_query(app, client_for):
    c = client_for("street")
    with count_statements(app) as statements:
        c.get("/admin/estate/?page_size=100")
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and "FROM estate" in s and "count(" not in s.lower()]
    assert any("JOIN community" in s for s in selects)
