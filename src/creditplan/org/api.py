from __future__ import annotations

import json
from datetime import datetime

from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Status

from creditplan.core.errors import to_problem
from creditplan.org import services as org

router = Router(tags=["auth"])


class TokenRequest(Schema):
    username: str
    password: str


class TokenRead(Schema):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    username: str
    role: str


class MeRead(Schema):
    username: str
    display_name: str
    role: str
    branch: str | None


@router.post("/token", auth=None, response={200: TokenRead}, summary="Log in and get a bearer token",
             description="Throttled per user name and per address: after repeated failures the answer is 429 with "
                         "Retry-After (seconds), the right password included, until the back-off has passed.")
def token(request: HttpRequest, payload: TokenRequest) -> TokenRead | HttpResponse:
    try:
        issued = org.issue_token(username=payload.username, password=payload.password,
                                 address=org.client_address(request.META))
    except org.TooManyAttempts as exc:
        response = HttpResponse(json.dumps(to_problem(exc).as_dict()), status=exc.http_status,
                                content_type="application/problem+json")
        response["Retry-After"] = str(exc.retry_after)
        return response
    return TokenRead(token=issued.token, expires_at=issued.expires_at, username=issued.user.username,
                     role=issued.user.role)


@router.post("/logout", response={204: None}, summary="Revoke the token this request presents (log out)",
             description="With a bearer token: that token stops working at once. With the browser's session: the "
                         "session ends, and with it every API token of the user.")
def logout(request: HttpRequest) -> Status:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        org.revoke_token(raw.strip())
    else:
        auth_logout(request)  # user_logged_out revokes the user's tokens (org.apps)
    return Status(204, None)


@router.get("/me", response=MeRead, summary="Who the token belongs to")
def me(request: HttpRequest) -> MeRead:
    u = request.auth
    return MeRead(username=u.username, display_name=u.display_name, role=u.role,
                  branch=u.branch.code if u.branch_id else None)
