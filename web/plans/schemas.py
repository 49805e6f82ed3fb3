"""Request bodies and queries for `/api/plans` and `/api/user/payments`."""

from __future__ import annotations

from pydantic import Field

from web.validation import Body, Query


class VerifyPaymentBody(Body):
    """What Razorpay Checkout hands the browser after a successful payment."""

    razorpay_order_id: str = Field(pattern=r"^order_[A-Za-z0-9_-]{1,60}$")
    razorpay_payment_id: str = Field(pattern=r"^pay_[A-Za-z0-9_-]{1,60}$")
    razorpay_signature: str = Field(min_length=1, max_length=256)


class PaymentsQuery(Query):
    page: int = Field(default=1, ge=1, le=10_000)
    limit: int = Field(default=20, ge=1, le=100)
