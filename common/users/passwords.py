"""Which new passwords are accepted: long enough for bcrypt's limits and not easy to guess.

Strength is zxcvbn's estimate (Dropbox's algorithm: common-password and word lists, keyboard
patterns, repetitions, dates, and the user's own email and name), not composition rules, so
"Password1" is refused and "correct-horse-1" is accepted.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from common.errors import ValidationError
from config import get_settings

# bcrypt only looks at the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8


def require_acceptable(password: str, field: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse (400 VALIDATION_ERROR naming `field`) a password that is too short, too long for
    bcrypt, or scored below `PASSWORD_MIN_SCORE` by zxcvbn; the message says how to do better."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError(
            f"{field}: must have at least {MIN_PASSWORD_CHARS} characters", {"field": field}
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationError(
            f"{field}: must be at most {MAX_PASSWORD_BYTES} bytes", {"field": field}
        )
    words = [part for text in user_inputs for part in _pieces(text)]
    result = zxcvbn(password, user_inputs=words)
    minimum = get_settings().password_min_score
    if result["score"] >= minimum:
        return
    feedback = result["feedback"]
    hints = [h for h in (feedback.get("warning"), *feedback.get("suggestions", ())) if h]
    advice = " ".join(hints) or "Add more words or characters that do not follow a pattern."
    raise ValidationError(
        f"{field}: this password is too easy to guess. {advice}",
        {
            "field": field,
            "reason": "WEAK_PASSWORD",
            "score": result["score"],
            "minScore": minimum,
            "warning": feedback.get("warning") or "",
            "suggestions": list(feedback.get("suggestions", ())),
        },
    )


def _pieces(text: str) -> list[str]:
    """The user's email and name, whole and in parts ("ann", "example") for zxcvbn to spot."""
    text = (text or "").lower()
    parts = text.replace("@", " ").replace(".", " ").replace("-", " ").split()
    return [text, *parts] if text else []
