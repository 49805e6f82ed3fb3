"""Sending a message (DESIGN.md chat flow, step 1).

Checks run in the documented order — validation, paywall, daily limit, balance — and nothing is
written until all pass. Then, per model, one wallet hold (keyed by the assistant message id) and
one pending assistant message; the user message and session stats; and only then the tasks are
enqueued, so a worker always finds what it was sent for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from common.admission import Admission
from common.chat import catalog_cache, sessions
from common.chat.dates import as_aware
from common.chat.models import ChatMessage, ChatSession, MessageOptions
from common.chat.tokens import estimate_prompt, trim
from common.errors import (
    DailyLimit,
    InsufficientTokens,
    NotFound,
    PayloadTooLarge,
    Paywall,
    ProviderUnavailable,
    ValidationError,
)
from common.redis_client import get_redis
from common.users.models import User, utcnow
from common.wallet import service as wallet
from config import get_settings

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 1024
# Conversations up to this size travel on the pending message (no history query in the worker).
PROMPT_INLINE_BYTES = 16_384
MAX_MODELS = 5


@dataclass(frozen=True)
class SendOptions:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None


@dataclass
class SendCommand:
    user: User
    message: str
    models: list[str]
    session_id: str | None = None
    options: SendOptions = field(default_factory=SendOptions)
    # Regenerate: answer this stored user message of `session_id` again (no new user message).
    parent_id: str | None = None


@dataclass
class SendResult:
    session: ChatSession
    user_message: ChatMessage
    messages: list[ChatMessage]
    user_after: dict | None = None  # the user document after the holds (for the snapshot)
    regenerated: bool = False  # `user_message` is the stored parent, not a new one


@dataclass
class _Plan:
    model: Any  # catalog AIModel
    message_id: ObjectId
    max_tokens: int
    estimate: int
    turns: list[dict] = field(default_factory=list)
    user_after: dict | None = None


# Sends in progress per process; later ones wait their turn (see `common.admission`).
_sends = Admission(lambda: get_settings().send_concurrency)


def send(cmd: SendCommand, enqueue: Callable[[str], None]) -> SendResult:
    """Validate, charge-hold and store a user turn, then `enqueue(message_id)` once per model.

    The three writes before the enqueue — today's request count (Redis), the holds and the
    messages (MongoDB) — do not depend on each other, so they run at once (each is a round trip
    on the path to the first delta). If any fails, the others are undone and the first failure
    in the documented order (daily limit, then balance) is raised.
    """
    with _sends.slot():
        return _send(cmd, enqueue)


def _send(cmd: SendCommand, enqueue: Callable[[str], None]) -> SendResult:
    parent = _parent(cmd) if cmd.parent_id else None
    if parent is not None:
        cmd = replace(cmd, message=parent.content or "")
    text, models, max_tokens = _validate(cmd)
    session = sessions.get_session(cmd.user.id, cmd.session_id) if cmd.session_id else None
    _check_content(text)
    _check_paywall(cmd.user, models)
    user_message_id = ObjectId()  # older than the answers' ids, so it sorts first on a tie
    plans = _plan_all(session, text, models, max_tokens, before=parent)
    result = _documents(cmd, session, text, plans, parent or user_message_id)
    daily, held, stored = _concurrently(
        lambda: _count_daily(cmd.user, len(models)),
        lambda: _hold_all(cmd.user, plans),
        lambda: _insert(result),
    )
    failure = next((r for r in (daily, held, stored) if isinstance(r, BaseException)), None)
    if failure is not None:
        _undo(cmd.user, plans, result, daily, held, stored)
        raise failure
    result.user_after = plans[-1].user_after if plans else None
    for msg in result.messages:
        _enqueue_one(msg, enqueue)
    _note_session(cmd, result, text, new_session=session is None)
    return result


def _parent(cmd: SendCommand) -> ChatMessage:
    """The user message a regenerate answers again: the caller's, in the named session."""
    if not cmd.session_id:
        raise ValidationError("sessionId: required with parentId", {"field": "sessionId"})
    try:
        oid = ObjectId(str(cmd.parent_id))
    except (InvalidId, TypeError):
        raise NotFound("Message not found.") from None
    msg = ChatMessage.objects(
        id=oid, userId__in=[cmd.user.id], sessionId=cmd.session_id, role="user"
    ).first()
    if msg is None:
        raise NotFound("Message not found.")
    return msg


def _concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` at once (greenlets under gevent, threads otherwise); each result is the
    call's value or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # handed back to the caller, who decides
            results[i] = exc

    helpers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(calls))]
    for helper in helpers:
        helper.start()
    run(0)
    for helper in helpers:
        helper.join()
    return results


def _undo(user: User, plans: list[_Plan], result: SendResult, daily, held, stored) -> None:
    """Take back whichever of the three writes succeeded (each step is safe to repeat)."""
    if not isinstance(daily, BaseException):
        _uncount_daily(user, daily)
    if not isinstance(held, BaseException):
        _release(user, plans, "send failed")
    if not isinstance(stored, BaseException):
        ids = [m.id for m in _new_documents(result)]
        ChatMessage._get_collection().delete_many({"_id": {"$in": ids}})


# -- checks ---------------------------------------------------------------------------------------


def _validate(cmd: SendCommand) -> tuple[str, list, int]:
    settings = get_settings()
    text = (cmd.message or "").strip()
    if not text:
        raise ValidationError("message: must not be empty", {"field": "message"})
    if len(text) > settings.max_message_chars:
        raise PayloadTooLarge(
            f"The message is longer than {settings.max_message_chars} characters.",
            {"field": "message", "maxChars": settings.max_message_chars},
        )
    ids = list(dict.fromkeys(m.strip() for m in cmd.models if isinstance(m, str) and m.strip()))
    if not ids:
        raise ValidationError("modelId: pick at least one model", {"field": "modelId"})
    if len(ids) > MAX_MODELS:
        raise ValidationError(f"models: at most {MAX_MODELS} at once", {"field": "models"})
    opts = cmd.options
    max_tokens = opts.max_tokens if opts.max_tokens is not None else None
    limit = settings.max_tokens_per_request
    if max_tokens is not None and not 1 <= max_tokens <= limit:
        raise ValidationError(
            f"options.maxTokens: must be between 1 and {limit}",
            {"field": "options.maxTokens", "max": limit},
        )
    if opts.temperature is not None and not 0 <= opts.temperature <= 2:
        raise ValidationError("options.temperature: must be between 0 and 2")
    if opts.top_p is not None and not 0 < opts.top_p <= 1:
        raise ValidationError("options.topP: must be above 0 and at most 1")
    models = [_model(model_id) for model_id in ids]
    return text, models, max_tokens or min(DEFAULT_MAX_TOKENS, limit)


def _model(model_id: str):
    model = catalog_cache.model(model_id)
    if not getattr(model, "isAvailable", True):
        raise ProviderUnavailable(
            f"{model_id} is unavailable right now. Pick another model.", {"modelId": model_id}
        )
    return model


def _check_content(text: str) -> None:
    try:
        from common.moderation.service import check_blocked
    except ImportError:  # moderation not installed in this build
        return
    check_blocked(text)


def effective_plan(user: User) -> str:
    """The plan in force: a paid plan past its `expiresAt` counts as free."""
    sub = user.subscription
    expires = as_aware(sub.expiresAt)
    if sub.plan != "free" and expires is not None and expires < utcnow():
        return "free"
    return sub.plan or "free"


def _check_paywall(user: User, models: list) -> None:
    if effective_plan(user) != "free":
        return
    for model in models:
        if not model.isFree:
            raise Paywall("pro", f"{model.modelId} needs the pro plan. Upgrade to use it.")


def _daily_key(user: User) -> str:
    return f"aipasta:daily:{user.id}:{datetime.now(UTC):%Y-%m-%d}"


def _count_daily(user: User, n: int) -> int:
    """Count `n` provider requests against today's allowance (UTC), atomically in Redis."""
    limit = int(user.subscription.limits.requestsPerDay or 0)
    key = _daily_key(user)
    pipe = get_redis().pipeline()
    pipe.incrby(key, n)
    pipe.expire(key, 2 * 86400)
    used = pipe.execute()[0]
    if limit and used > limit:
        get_redis().decrby(key, n)
        raise DailyLimit(
            f"You reached your plan's {limit} requests for today. Upgrade or come back tomorrow.",
            {"limit": limit, "used": used - n, "requested": n},
        )
    return n


def _uncount_daily(user: User, n: int) -> None:
    if n:
        get_redis().decrby(_daily_key(user), n)


def daily_used(user: User) -> int:
    return int(get_redis().get(_daily_key(user)) or 0)


# -- holds and documents --------------------------------------------------------------------------


def _history(session: ChatSession | None) -> list[ChatMessage]:
    if session is None:
        return []
    return list(
        ChatMessage.objects(sessionId=session.sessionId)
        .order_by("createdAt", "id")
        .only("role", "content", "modelId", "status", "parentId")
    )


def _turns_for(history: list[ChatMessage], model_id: str) -> list[dict]:
    """The user's turns and this model's finished answers (what this model said before); of
    answers regenerated for one turn, only the newest."""
    newest = {}
    for m in history:
        if m.role == "assistant" and m.status == "done" and m.modelId == model_id:
            newest[m.parentId] = m.id
    kept = set(newest.values())
    return [
        {"role": m.role, "content": m.content or ""}
        for m in history
        if m.role == "user" or m.id in kept
    ]


def _plan_all(
    session, text: str, models: list, max_tokens: int, before: ChatMessage | None = None
) -> list[_Plan]:
    """Per model: the message id, the conversation it will see (trimmed to its context window)
    and the hold it needs. Reads the session's history once; writes nothing. With `before`
    (a regenerate), the conversation ends at that user message."""
    history = _history(session)
    if before is not None:
        history = history[: next((i for i, m in enumerate(history) if m.id == before.id), 0)]
    plans = []
    for model in models:
        window = int(getattr(model, "contextWindow", 0) or 4096)
        room = min(max_tokens, max(1, window // 2))
        turns = trim(
            _turns_for(history, model.modelId) + [{"role": "user", "content": text}],
            window - room,
        )
        plans.append(_Plan(model, ObjectId(), room, estimate_prompt(turns) + room, turns))
    return plans


def _hold_all(user: User, plans: list[_Plan]) -> list[_Plan]:
    """One hold per model; all or none (earlier holds are released if a later one fails)."""
    held: list[_Plan] = []
    # The pools as just read; each hold's answer gives the next one's view (one round trip each).
    tokens = user.tokens
    hint = {"freeTokens": tokens.freeTokens or 0, "purchasedTokens": tokens.purchasedTokens or 0}
    try:
        for plan in plans:
            hold = wallet.reserve(
                user.id,
                plan.estimate,
                str(plan.message_id),
                details={"kind": "chat"},
                fresh=True,  # a new ObjectId: nothing was ever held or settled under it
                hint=hint,
                active_only=True,  # a deactivated account is refused in the same write
            )
            plan.user_after = hold.user_after
            hint = (hold.user_after or {}).get("tokens") or {}
            held.append(plan)
    except InsufficientTokens as exc:
        _release(user, held, "insufficient tokens for another model")
        required = sum(p.estimate for p in plans)
        raise InsufficientTokens(
            required=required, available=exc.available + sum(p.estimate for p in held)
        ) from None
    except Exception:
        _release(user, held, "send failed")
        raise
    return held


def _release(user: User, plans: list[_Plan], reason: str) -> None:
    for plan in plans:
        wallet.release(user.id, str(plan.message_id), reason=reason)


def _documents(
    cmd: SendCommand,
    session: ChatSession | None,
    text: str,
    plans: list[_Plan],
    user_message: ObjectId | ChatMessage,
) -> SendResult:
    """The user message and one pending assistant message per model, not yet stored.

    A new session's document is written after the tasks are enqueued (`_note_session`): the
    worker needs only the messages, and this keeps the session write off the first delta's path.
    """
    session = session or ChatSession(sessionId=sessions.new_session_id(), userId=cmd.user.id)
    regenerated = isinstance(user_message, ChatMessage)
    user_msg = (
        user_message
        if regenerated
        else ChatMessage(
            id=user_message,
            sessionId=session.sessionId,
            userId=cmd.user.id,
            role="user",
            content=text,
            status="done",
        )
    )
    messages = [_assistant(cmd, session, user_msg, plan) for plan in plans]
    return SendResult(session, user_msg, messages, regenerated=regenerated)


def _new_documents(result: SendResult) -> list[ChatMessage]:
    return result.messages if result.regenerated else [result.user_message, *result.messages]


def _insert(result: SendResult) -> None:
    """Store the user message and the pending assistant messages in one round trip."""
    docs = [m.to_mongo() for m in _new_documents(result)]
    ChatMessage._get_collection().insert_many(docs, ordered=True)


def _note_session(cmd: SendCommand, result: SendResult, text: str, new_session: bool) -> None:
    session = result.session
    if new_session:
        session.title = sessions.title_from(text)
        session.models = [m.modelId for m in result.messages]
        session.messageCount = 1 + len(result.messages)
        session.save(force_insert=True)
    else:
        sessions.note_turn(
            session, text, [m.modelId for m in result.messages], len(_new_documents(result))
        )
        session.reload()


def _assistant(
    cmd: SendCommand, session: ChatSession, user_msg: ChatMessage, plan: _Plan
) -> ChatMessage:
    msg = ChatMessage(
        id=plan.message_id,
        sessionId=session.sessionId,
        userId=cmd.user.id,
        role="assistant",
        modelId=plan.model.modelId,
        parentId=user_msg.id,
        status="pending",
        reserved=plan.estimate,
        prompt=plan.turns if _prompt_size(plan.turns) <= PROMPT_INLINE_BYTES else None,
        metadata=MessageOptions(
            temperature=cmd.options.temperature, maxTokens=plan.max_tokens, topP=cmd.options.top_p
        ),
    )
    msg.validate()
    return msg


def _prompt_size(turns: list[dict]) -> int:
    return sum(len(t["content"]) + 16 for t in turns)


def _enqueue_one(msg: ChatMessage, enqueue: Callable[[str], None]) -> None:
    """Enqueue after storing; if the broker refuses, fail the message and free its hold now."""
    try:
        enqueue(str(msg.id))
    except Exception as exc:
        log.exception("enqueue failed for %s", msg.id)
        from common.chat.settlement import fail_unstarted

        fail_unstarted(
            msg, "SERVICE_UNAVAILABLE", "We could not start this answer. Please retry.", str(exc)
        )
