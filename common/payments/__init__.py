"""Plans, Razorpay orders and payments, webhooks and subscriptions (see service.py)."""
