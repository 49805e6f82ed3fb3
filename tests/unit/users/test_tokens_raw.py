"""`authenticate_raw_token` (the websocket's way in) and the password-hash timing guard."""

from __future__ import annotations

import time

import jwt
import pytest

from common.errors import Unauthorized
from common.users import service as users
from common.users.models import User
from web.security import authenticate_raw_token, revoke


def test_raw_token_checks_everything(app, make_user, settings):
    user, token = make_user()
    with app.app_context():
        assert str(authenticate_raw_token(token).id) == user["id"]
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


def test_raw_token_of_an_inactive_or_deleted_user_is_refused(app, make_user):
    user, token = make_user()
    with app.app_context():
        User.objects(id=user["id"]).update_one(set__isActive=False)
        with pytest.raises(Unauthorized):
            authenticate_raw_token(token)
        User.objects(id=user["id"]).delete()
        with pytest.raises(Unauthorized):
            authenticate_raw_token(token)


def test_unknown_email_costs_as_much_as_a_real_hash(settings, settings_override):
    """The dummy hash checked for an unknown email has the configured cost of real hashes."""
    real = users.hash_password("whatever-123")
    assert real.startswith(f"$2b${settings.bcrypt_rounds:02d}$")
    assert users._dummy_hash().decode().startswith(f"$2b${settings.bcrypt_rounds:02d}$")
    settings_override(bcrypt_rounds=5)
    assert users._dummy_hash().decode().startswith("$2b$05$")
    assert users.check_password("whatever-123", None) is False
