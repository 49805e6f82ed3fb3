import pytest

from tests.support.http import auth


@pytest.fixture
def admin(make_admin):
    """(user json, auth headers) of a logged-in admin."""
    user, token = make_admin(name="Ada Admin")
    return user, auth(token)
