"""/docs and /redoc work with no internet: every script, style and icon comes from this server.

The pages are parsed, every URL they load is checked to be of this server's origin, and
each one is fetched. What the scripts ask for once they run is for a browser to see (the
browser tests watch its requests); the pages' Content-Security-Policy tells the browser
to refuse anything from elsewhere, and that policy is checked here.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.integration.conftest import Api

BASE = "http://hotline.test"  # the base URL of the conftest's client


class _Loads(HTMLParser):
    """Collects the URLs a page makes the browser load: src= and <link href=>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "src" or (tag == "link" and name == "href")):
                self.urls.append(value)


def loaded_urls(html: str) -> list[str]:
    parser = _Loads()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_everything_from_this_server(api: Api, page: str) -> None:
    response = await api.client.get(page)
    assert response.status_code == 200
    urls = loaded_urls(response.text)
    assert any(url.endswith(".js") for url in urls), urls

    for url in urls:
        absolute = urljoin(f"{BASE}{page}", url)
        assert urlsplit(absolute).netloc == urlsplit(BASE).netloc, url
        asset = await api.client.get(absolute)
        assert asset.status_code == 200, url
        assert asset.content
    # No absolute URL at all, in a tag or in the inline script that starts the viewer.
    assert "://" not in response.text


async def test_swagger_ui_is_told_not_to_ask_an_online_validator(api: Api) -> None:
    page = (await api.client.get("/docs")).text

    assert '"validatorUrl": null' in page
    assert "/openapi.json" in page


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_tell_the_browser_to_fetch_from_this_server_only(
    api: Api, page: str
) -> None:
    response = await api.client.get(page)
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["content-security-policy"].split("; ")
    }

    assert policy["default-src"] == ["'self'"]
    for sources in policy.values():
        assert all(source.startswith(("'", "data:", "blob:")) for source in sources), sources
    assert "'unsafe-inline'" not in policy["script-src"]
    assert response.headers["x-content-type-options"] == "nosniff"
