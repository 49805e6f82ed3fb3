"""Helpers for the streaming chat tests: model ids, an HTTP client for the stack, wallet peeks."""

from __future__ import annotations

import requests

from common.users.models import User
from common.wallet import service as wallet
from tests.support.http import auth
from tests.support.stack import Stack

FREE = "fake/echo"
FREE2 = "mistralai/mistral-7b-instruct:free"
FREE3 = "google/gemma-2-9b-it:free"
PAID = "openai/gpt-4o"


class Api:
    def __init__(self, stack: Stack, token: str):
        self.base, self.token = stack.base_url, token

    def post(self, path: str, json=None):
        return requests.post(self.base + path, json=json, headers=auth(self.token), timeout=60)

    def get(self, path: str, **params):
        return requests.get(self.base + path, params=params, headers=auth(self.token), timeout=30)

    def patch(self, path: str, json=None):
        return requests.patch(self.base + path, json=json, headers=auth(self.token), timeout=30)

    def delete(self, path: str):
        return requests.delete(self.base + path, headers=auth(self.token), timeout=30)


def tokens_of(user_id: str) -> dict:
    u = User.objects(id=user_id).first()
    return {
        "balance": u.tokens.balance,
        "reserved": u.tokens.reserved,
        "used": u.tokens.usedTokens,
        "holds": dict(u.holds or {}),
    }


def set_balance(user_id: str, balance: int) -> None:
    """Spend free tokens down to `balance` through the wallet (so the ledger stays whole)."""
    have = tokens_of(user_id)["balance"]
    if have > balance:
        wallet.debit(
            user_id, have - balance, f"test-debit-{user_id}", "test", pools=("free", "purchased")
        )
