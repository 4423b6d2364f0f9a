"""/admin: the admin lands on it; the menu lists each admin page that exists; other roles get
the Chinese 403 page and anonymous visitors the login page."""

from __future__ import annotations

import re

import pytest

from tests.web.test_page_security import sign_in


def test_the_admin_lands_on_admin_with_a_menu_of_the_admin_pages(app, client):
    r = sign_in(client, "admin1")
    assert r.headers["Location"].endswith("/admin")
    html = client.get("/admin").get_data(as_text=True)
    assert "系统管理" in html
    cards = re.search(r'data-testid="admin-cards">(.*?)</ul>', html, re.S).group(1)
    links = re.findall(r'href="(/admin/[^"]+)"', cards)
    assert "/admin/classifier" in links and "/admin/triage" in links
    for link in links:  # every page the menu offers opens, with the menu beside it
        page = client.get(link)
        assert page.status_code == 200, link
        html = page.get_data(as_text=True)
        assert 'data-testid="admin-menu"' in html
        shown = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)  # JSON islands aside
        assert "}}" not in shown and "{{" not in shown, link  # no template syntax left over


@pytest.mark.parametrize("username", ["dispatcher1", "handler1", "operator1", "leader1"])
def test_other_roles_get_the_chinese_403_page_at_admin(app, client, username):
    sign_in(client, username)
    r = client.get("/admin")
    assert r.status_code == 403
    assert "无权" in r.get_data(as_text=True)


def test_an_anonymous_visitor_is_sent_to_the_login_page(app, client):
    r = client.get("/admin")
    assert r.status_code == 302 and "/login?next=/admin" in r.headers["Location"]
