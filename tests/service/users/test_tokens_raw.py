"""`authenticate_raw_token` (the websocket's way in) and the password-hash timing guard."""

from __future__ import annotations

import time

import jwt
import pytest

from common.errors import Unauthorized
from common.users.models import User
from web.security import authenticate_raw_token, recheck_claims, revoke


def test_raw_token_checks_everything(app, make_user, settings):
    user, token = make_user()
    with app.app_context():
        signed_in, claims_back = authenticate_raw_token(token)
        assert str(signed_in.id) == user["id"] and claims_back["sub"] == user["id"]
        claims = jwt.decode(token, settings.jwt_secret_key, algorithms=["HS256"])
        bad = [
            token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
            jwt.encode({**claims, "exp": int(time.time()) - 10}, settings.jwt_secret_key),
            jwt.encode(claims, None, algorithm="none"),
            jwt.encode(claims, "another-secret-0123456789abcdef0123456789"),
            "",
            "garbage",
        ]
        for forged in bad:
            with pytest.raises(Unauthorized):
                authenticate_raw_token(forged)
        revoke(claims)
        with pytest.raises(Unauthorized):
            authenticate_raw_token(token)


def test_claims_checked_again_later_see_logout_and_password_change(app, make_user, client):
    """What an open websocket does every few seconds with the claims it signed in with."""
    user, token = make_user()
    with app.app_context():
        _, claims = authenticate_raw_token(token)
        assert str(recheck_claims(claims).id) == user["id"]
        res = client.put(
            "/api/user/password",
            json={"currentPassword": "correct-horse-1", "newPassword": "another-horse-2"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert res.status_code == 200
        with pytest.raises(Unauthorized):
            recheck_claims(claims)  # older than the password change
        _, fresh = authenticate_raw_token(res.get_json()["data"]["token"])
        revoke(fresh)
        with pytest.raises(Unauthorized):
            recheck_claims(fresh)  # logged out
        with pytest.raises(Unauthorized):
            recheck_claims({**fresh, "jti": "other", "exp": int(time.time()) - 1})  # expired


def test_raw_token_of_an_inactive_or_deleted_user_is_refused(app, make_user):
    user, token = make_user()
    with app.app_context():
        User.objects(id=user["id"]).update_one(set__isActive=False)
        with pytest.raises(Unauthorized):
            authenticate_raw_token(token)
        User.objects(id=user["id"]).delete()
        with pytest.raises(Unauthorized):
            authenticate_raw_token(token)
