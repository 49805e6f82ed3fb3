from tests.support.http import auth


def test_register_me(client, make_user):
    user, token = make_user()
    assert user["tokens"]["balance"] == 10_000
    res = client.get("/api/auth/me", headers=auth(token))
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["data"]["user"]["email"] == user["email"]
