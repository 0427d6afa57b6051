"""Issue 20 §7: the API docs page works without internet — Swagger UI comes from the package's static files
(django-ninja ships them), not from a CDN, so /api/v1/docs is not blank on a machine that reaches no other host."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_the_api_docs_page_loads_its_assets_from_this_server(client: Any) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    assert not [a for a in assets if re.match(r"(https?:)?//", a)]  # no CDN, no other host
    assert "cdn." not in page
    for asset in assets:  # each asset is a static file of this installation
        assert asset.startswith("/static/") and finders.find(asset.removeprefix("/static/")), asset
