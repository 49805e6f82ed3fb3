"""Password hashes have the configured bcrypt cost, the dummy one checked for an unknown email
too (so that a login with an unknown email takes as long as one with a known email)."""

from __future__ import annotations

from common.users import service as users


def test_unknown_email_costs_as_much_as_a_real_hash(settings, settings_override):
    """The dummy hash checked for an unknown email has the configured cost of real hashes."""
    real = users.hash_password("whatever-123")
    assert real.startswith(f"$2b${settings.bcrypt_rounds:02d}$")
    assert users._dummy_hash().decode().startswith(f"$2b${settings.bcrypt_rounds:02d}$")
    settings_override(bcrypt_rounds=5)
    assert users._dummy_hash().decode().startswith("$2b$05$")
    assert users.check_password("whatever-123", None) is False
