from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

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


@router.post("/token", auth=None, response={200: TokenRead}, summary="Log in and get a bearer token")
def token(request: HttpRequest, payload: TokenRequest) -> TokenRead:
    issued = org.issue_token(username=payload.username, password=payload.password)
    return TokenRead(token=issued.token, expires_at=issued.expires_at, username=issued.user.username,
                     role=issued.user.role)


@router.get("/me", response=MeRead, summary="Who the token belongs to")
def me(request: HttpRequest) -> MeRead:
    u = request.auth  # type: ignore[attr-defined]
    return MeRead(username=u.username, display_name=u.display_name, role=u.role,
                  branch=u.branch.code if u.branch_id else None)
