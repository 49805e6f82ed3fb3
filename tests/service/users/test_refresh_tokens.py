"""Only access tokens authenticate: a refresh-type JWT signed with our key (flask-jwt-extended
can issue one) opens neither the API nor the websocket (`authenticate_raw_token`)."""

from __future__ import annotations

import pytest
from flask_jwt_extended import create_refresh_token

from common.errors import Unauthorized
from tests.support.http import auth
from web.security import authenticate_raw_token


@pytest.fixture
def refresh_token(app, make_user):
    user, _ = make_user()
    with app.app_context():
        return create_refresh_token(identity=user["id"], additional_claims={"tv": 0})


def test_refresh_token_is_refused_by_the_socket_check(app, refresh_token):
    with app.app_context(), pytest.raises(Unauthorized, match="Only an access token"):
        authenticate_raw_token(refresh_token)


def test_refresh_token_is_refused_by_the_api(client, refresh_token):
    res = client.get("/api/auth/me", headers=auth(refresh_token))
    assert (res.status_code, res.get_json()["code"]) == (401, "UNAUTHORIZED")
