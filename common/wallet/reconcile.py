"""Recompute every wallet from the ledger alone and report differences."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.wallet.service import _ledger, _users


@dataclass
class Difference:
    user_id: str
    email: str
    problems: list[str] = field(default_factory=list)


def reconcile() -> list[Difference]:
    """For each user: free and purchased pools plus open holds must equal the ledger's sums."""
    sums = {
        row["_id"]: row
        for row in _ledger().aggregate(
            [
                {
                    "$group": {
                        "_id": "$user",
                        "amount": {"$sum": "$amount"},
                        "free": {"$sum": "$free"},
                        "purchased": {"$sum": "$purchased"},
                        "charged": {
                            "$sum": {"$cond": [{"$eq": ["$kind", "charge"]}, "$amount", 0]}
                        },
                    }
                }
            ]
        )
    }
    report = []
    for doc in _users().find({}, {"email": 1, "tokens": 1, "credits": 1, "holds": 1}):
        report.extend(_check_user(doc, sums.get(doc["_id"], {})))
    return report


def _check_user(doc: dict, sums: dict) -> list[Difference]:
    t = doc.get("tokens") or {}
    holds = (doc.get("holds") or {}).values()
    held_free = sum(int(h["free"]) for h in holds)
    held_purchased = sum(int(h["purchased"]) for h in holds)
    free, purchased = int(t.get("freeTokens", 0)), int(t.get("purchasedTokens", 0))
    diff = Difference(str(doc["_id"]), doc.get("email", ""))

    def expect(label: str, actual: int, wanted: int) -> None:
        if actual != wanted:
            diff.problems.append(f"{label} is {actual}, ledger says {wanted}")

    expect("free pool + held", free + held_free, int(sums.get("free", 0)))
    expect("purchased pool + held", purchased + held_purchased, int(sums.get("purchased", 0)))
    expect("balance", int(t.get("balance", 0)), free + purchased)
    expect("reserved", int(t.get("reserved", 0)), held_free + held_purchased)
    expect("credits (legacy)", int(doc.get("credits", 0)), int(t.get("balance", 0)))
    expect("usedTokens", int(t.get("usedTokens", 0)), -int(sums.get("charged", 0)))
    if any(n < 0 for n in (free, purchased, int(t.get("reserved", 0)))):
        diff.problems.append("a pool is negative")
    return [diff] if diff.problems else []
