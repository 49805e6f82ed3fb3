"""What a user does to their own account beyond the profile: delete it (signing out everywhere
is `common.users.revocation.revoke_all`)."""

from __future__ import annotations

from common.conversations import sessions
from common.errors import Conflict
from common.stored import utcnow
from common.users import credentials
from common.users.models import User
from common.users.service import WrongPassword, check_password


def delete_account(user: User, password: str) -> None:
    """Close the account for good: sign-in is refused, the email and name are scrubbed (the
    address can register again, as a new account), the conversations are deleted.

    The wallet is not paid out: its tokens are forfeited and stay on the closed record, which,
    with the ledger and the payments, is kept for accounting. Refused (409) while answers are
    in progress, so no hold is left on a closed wallet."""
    if user.password and not check_password(password, user.password):
        raise WrongPassword("password", "The password is wrong.")
    user.reload()
    if user.holds:
        raise Conflict(
            "Answers are still in progress. Stop them or wait a minute, then try again.",
            {"openHolds": len(user.holds)},
        )
    uid = user.id
    # A hold placed after the check above still settles or is released as usual (the worker
    # and the reaper do not need the account to be active), so the wallet stays whole.
    User.objects(id=uid).update_one(
        set__isActive=False,
        set__deactivatedReason="deleted by the user",
        set__email=f"deleted-{uid}@deleted.invalid",
        set__name="Deleted user",
        unset__avatar=True,
        unset__password=True,
        unset__googleId=True,
        inc__tokenVersion=1,
        set__signOutReason="closed",
        set__updatedAt=utcnow(),
    )
    credentials.changed(uid)
    sessions.delete_all_for(uid)
