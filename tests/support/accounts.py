"""Test shortcuts for account state the tests of other areas need."""

from __future__ import annotations

from common.users import service as users


def confirm_address(user: dict) -> dict:
    """Mark a registered user's address confirmed, as if its mailed link was opened (buying and
    API keys need it; the confirmation flow itself is tested in tests/service/accounts)."""
    users.mark_email_verified(user["id"], user["email"])
    return {**user, "emailVerified": True}
