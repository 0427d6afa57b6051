"""Request bodies capped before they are read (security issue 14, low finding): a declared Content-Length above
the limit is answered 413 without the body being touched; a body without a length is not read at all."""

from __future__ import annotations

import json

import pytest
from django.conf import settings


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args: object) -> bytes:
        raise AssertionError("the request body was read")

    readline = read


def _post(client, path: str, length: int, content_type: str = "application/json", **extra: str):
    return client.generic("POST", path, b"", CONTENT_TYPE=content_type, CONTENT_LENGTH=str(length),
                          **{"wsgi.input": UnreadableBody()}, **extra)


@pytest.mark.django_db
def test_an_api_request_larger_than_the_limit_is_refused_before_its_body_is_read(client) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = _post(client, "/api/v1/auth/token", limit + 1)
    assert response.status_code == 413
    problem = json.loads(response.content)
    assert problem["code"] == "request_too_large" and problem["limit"] == limit
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_a_page_larger_than_the_limit_is_refused_in_the_readers_language(client) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    zh = _post(client, "/customers/new/", limit + 1, content_type="application/x-www-form-urlencoded")
    assert zh.status_code == 413 and "请求过大" in zh.content.decode()
    en = _post(client, "/customers/new/", limit + 1, content_type="application/x-www-form-urlencoded",
               HTTP_ACCEPT_LANGUAGE="en")
    assert en.status_code == 413 and "The request is too large: at most 2.5 MB" in en.content.decode()


@pytest.mark.django_db
def test_uploads_may_carry_a_document_and_bank_files_more(client) -> None:
    multipart = "multipart/form-data; boundary=xyz"
    document = settings.DOCUMENT_MAX_BYTES + 64 * 1024  # a full-size document and the form around it
    # not refused by size: the API asks for authentication first (and reads nothing)
    assert _post(client, "/api/v1/documents/applications/APP-1", document, content_type=multipart).status_code != 413
    assert _post(client, "/api/v1/documents/applications/APP-1", settings.UPLOAD_REQUEST_MAX_BYTES + 1,
                 content_type=multipart).status_code == 413
    assert _post(client, "/api/v1/loans/bank-files", 40 * 1024 * 1024, content_type=multipart).status_code == 401
    assert _post(client, "/api/v1/loans/bank-files", 70 * 1024 * 1024, content_type=multipart).status_code == 413


@pytest.mark.django_db
def test_a_body_without_a_length_is_refused_unread(client) -> None:
    response = client.generic("POST", "/api/v1/auth/token", b"", HTTP_TRANSFER_ENCODING="chunked",
                              **{"wsgi.input": UnreadableBody()})
    assert response.status_code == 411 and json.loads(response.content)["code"] == "length_required"


def test_requests_within_the_limit_go_through(bank, client) -> None:
    from factories import PASSWORD

    response = client.post("/api/v1/auth/token", {"username": "officer_bj", "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["username"] == "officer_bj"
