"""Request bodies for `/api/plans`."""

from __future__ import annotations

from pydantic import Field

from common.payments.service import CheckoutPayment
from web.validation import Body


class VerifyPaymentBody(Body):
    """What Razorpay Checkout hands the browser after a successful payment."""

    razorpay_order_id: str = Field(pattern=r"^order_[A-Za-z0-9_-]{1,60}$")
    razorpay_payment_id: str = Field(pattern=r"^pay_[A-Za-z0-9_-]{1,60}$")
    razorpay_signature: str = Field(min_length=1, max_length=256)

    def command(self, plan_id: str) -> CheckoutPayment:
        return CheckoutPayment(
            plan_id=plan_id,
            order_id=self.razorpay_order_id,
            payment_id=self.razorpay_payment_id,
            signature=self.razorpay_signature,
        )
