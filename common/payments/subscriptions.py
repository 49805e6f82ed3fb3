"""Subscription changes: applied once per order, and expired back to `free` by a beat task;
and the paywall rule that reads the plan in force (`effective_plan`, `check_paywall`).

Both rewrite the user's whole `subscription` sub-document in one update that is conditional on
the revision (`subscription.rev`), plan and expiry read just before, so concurrent purchases and
the expiry job never lose each other's change (the loser re-reads and tries again). A purchase
also appends its order id to `subscription.orders` in that same update: that list is the
exactly-once marker, so a retry after a crash sees the order there and changes nothing.

The whole sub-document is written (not `subscription.expiresAt` alone) because nx-27017 stores
a datetime `$set` on its own as a string, while datetimes inside a sub-document survive.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from common.errors import AppError, NotFound, Paywall
from common.stored import as_utc, object_id, utcnow
from common.users import credentials
from common.users.models import PLAN_LIMITS, User

log = logging.getLogger(__name__)

KEEP_ORDERS = 50  # applied order ids remembered per user; far more than can be in flight
_RETRIES = 100


def _users():
    return User._get_collection()


def _to_millis(value: datetime) -> datetime:
    """BSON keeps milliseconds; trimming here makes the returned expiry equal the stored one."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def limits_for(plan: str, limits: dict | None) -> dict[str, int | None]:
    """The plan's own requests a day where it carries them, else its tier's; never a monthly
    token cap (`PLAN_LIMITS`)."""
    base = dict(PLAN_LIMITS[plan])
    for key, value in (limits or {}).items():
        if value is not None and key in base and key != "tokensPerMonth":
            base[key] = int(value)
    return base


def _condition(uid: ObjectId, sub: dict) -> dict:
    """Match the user only while the subscription is still what we read."""
    return {
        "_id": uid,
        "subscription.rev": sub.get("rev", 0) if "rev" in sub else {"$exists": False},
        "subscription.plan": sub.get("plan", "free"),
        "subscription.expiresAt": sub.get("expiresAt"),
    }


def _read(uid: ObjectId) -> dict:
    doc = _users().find_one({"_id": uid}, {"subscription": 1})
    if doc is None:
        raise NotFound("User not found.")
    return doc.get("subscription") or {}


def apply_purchase(
    user_id: Any, order_id: str, plan: str, days: int, limits: dict | None
) -> tuple[datetime, bool]:
    """Set `plan` for `days` more days (from the later of now and the current expiry), once.

    Returns (expiresAt, applied_now). Called again with the same `order_id` it changes nothing
    and returns the current expiry with `applied_now=False`.
    """
    uid = object_id(user_id)
    for attempt in range(_RETRIES):
        sub = _read(uid)
        orders = [str(o) for o in sub.get("orders") or []]
        current = as_utc(sub.get("expiresAt"))
        if order_id in orders:
            return current or utcnow(), False
        start = max(utcnow(), current) if current else utcnow()
        expires = _to_millis(start + timedelta(days=int(days)))
        new = {
            "plan": plan,
            "expiresAt": expires,
            "limits": limits_for(plan, limits),
            "rev": int(sub.get("rev", 0)) + 1,
            "orders": (orders + [order_id])[-KEEP_ORDERS:],
        }
        res = _users().update_one(
            _condition(uid, sub),
            {"$set": {"subscription": new}, "$currentDate": {"updatedAt": True}},
        )
        if res.modified_count:
            credentials.changed(uid)
            return expires, True
        time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
    raise AppError("The subscription is busy; please retry.")


def expire_due(now: datetime | None = None) -> int:
    """Move every subscription whose expiry has passed back to `free` with free limits.

    A subscription without an expiry (granted by an admin for good) never expires here.
    Returns how many users were moved.
    """
    now = now or utcnow()
    moved = 0
    # Paid subscribers are few; the expiry is compared here because a date written by another
    # writer may be a string on nx-27017 (see the module docstring) and compare wrongly there.
    query = {"subscription.plan": {"$ne": "free"}}
    for doc in _users().find(query, {"subscription": 1}):
        sub = doc.get("subscription") or {}
        expires = as_utc(sub.get("expiresAt"))
        if expires is None or expires > now:
            continue
        new = {
            "plan": "free",
            "expiresAt": None,
            "limits": limits_for("free", None),
            "rev": int(sub.get("rev", 0)) + 1,
            "orders": list(sub.get("orders") or []),
        }
        res = _users().update_one(
            _condition(doc["_id"], sub),
            {"$set": {"subscription": new}, "$currentDate": {"updatedAt": True}},
        )
        if res.modified_count:
            credentials.changed(doc["_id"])
            moved += 1
            log.info("subscription of %s expired (%s)", doc["_id"], sub.get("plan"))
    return moved


# -- the paywall ------------------------------------------------------------------------------


def effective_plan(user: User) -> str:
    """The plan in force: a paid plan past its `expiresAt` counts as free (also before
    `expire_due` has moved it back)."""
    sub = user.subscription
    expires = as_utc(sub.expiresAt)
    if sub.plan != "free" and expires is not None and expires < utcnow():
        return "free"
    return sub.plan or "free"


def check_paywall(user: User, models: list) -> None:
    """Refuse (`Paywall`) a paid model to a user whose plan in force is free."""
    if effective_plan(user) != "free":
        return
    for model in models:
        if not model.isFree:
            raise Paywall("pro", f"{model.modelId} needs the pro plan. Upgrade to use it.")
