from __future__ import annotations

from pydantic import EmailStr, Field

from web.api_models import Open
from web.validation import Body


class RegisterBody(Body):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100)


class LoginBody(Body):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=128)


class GoogleBody(Body):
    idToken: str = Field(min_length=10, max_length=8192)  # noqa: N815 (JSON field name)


class ForgotPasswordBody(Body):
    email: EmailStr = Field(max_length=254)


class ResetPasswordBody(Body):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=8, max_length=128)


class LinkTokenBody(Body):
    """A one-time link's token (the `#token=` part of the address in the mail)."""

    token: str = Field(min_length=10, max_length=200)


class Accepted(Open):
    """202: the request was taken; what follows arrives by mail."""


class EmailState(Open):
    email: str
    emailVerified: bool  # noqa: N815
