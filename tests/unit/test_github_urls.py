"""reconciler.github_urls: the web and clone URLs of a repository, from the API's base URL."""

from __future__ import annotations

import pytest

from reconciler.errors import KajitoriError
from reconciler.github_urls import clone_url, web_url


def test_web_urls_of_github_com_and_enterprise() -> None:
    assert web_url("https://api.github.com", "acme/shop") == "https://github.com/acme/shop"
    assert web_url("https://ghe.example.com/api/v3/", "acme/shop") == (
        "https://ghe.example.com/acme/shop"
    )
    assert web_url("http://127.0.0.1:8080/", "acme/shop") == ""


def test_clone_url_prefers_the_repository_map_then_the_web_url() -> None:
    mapped = {"file:///srv/mirror/shop.git": "acme/shop"}
    assert clone_url("http://127.0.0.1:8080/", mapped, "acme/shop") == (
        "file:///srv/mirror/shop.git"
    )
    assert clone_url("https://api.github.com", {}, "acme/web") == "https://github.com/acme/web.git"
    with pytest.raises(KajitoriError, match="map it in repositoryMap"):
        clone_url("http://127.0.0.1:8080/", {}, "acme/web")
