"""Amounts on a receipt: rupees with Indian digit grouping, and the GST a price includes (the
receipts themselves: tests/service/payments/test_receipts.py)."""

from __future__ import annotations

from common.payments import receipts


def test_rupees_with_indian_grouping_and_the_gst_a_price_includes():
    assert receipts.inr(39_900) == "₹399.00"
    assert receipts.inr(1_23_45_678_90) == "₹1,23,45,678.90"
    assert receipts.inr(99_900_00) == "₹99,900.00"
    assert receipts.inr(1234, "USD") == "12.34 USD"
    assert receipts.gst_share(39_900, 18) == (6_086, 33_814)
    assert sum(receipts.gst_share(99_900, 18)) == 99_900
