"""Sending a message (DESIGN.md chat flow, step 1).

Checks run in the documented order — validation, paywall, daily limit, balance — and nothing is
written until all pass. Then, per model, one wallet hold (keyed by the assistant message id) and
one pending assistant message; the user message and the session (a new one's document, or the
turn counted on an existing one); and only then the tasks are enqueued, so a worker always finds
everything it was sent for — settlement adds the answer's totals to the session document, which
must exist by then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from common import metrics
from common.admission import Admission
from common.catalog import service as catalog
from common.chat import catalog_cache, idempotency, sessions
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
    ServiceUnavailable,
    ValidationError,
)
from common.redis_client import get_redis
from common.users.models import User, utcnow
from common.wallet import pricing
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
    stop: list[str] | None = None


@dataclass
class SendCommand:
    user: User
    message: str
    models: list[str]
    session_id: str | None = None
    options: SendOptions = field(default_factory=SendOptions)
    # The client's key for this send (`Idempotency-Key`, a websocket `requestId`): a repeat
    # within the window answers with this send (see `common.chat.idempotency`).
    idempotency_key: str | None = None
    # The OpenAI-compatible API: the whole conversation comes with the request (it is the
    # prompt, not the session's history), and the key it came through is checked and recorded.
    prompt: list[dict] | None = None
    api_key: Any = None  # common.apikeys.models.ApiKey
    # Regenerate: answer this stored user message of `session_id` again (no new user message).
    parent_id: str | None = None


@dataclass
class SendResult:
    session: ChatSession
    user_message: ChatMessage
    messages: list[ChatMessage]
    user_after: dict | None = None  # the user document after the holds (for the snapshot)
    replayed: bool = False  # the answer of an earlier send with the same idempotency key
    regenerated: bool = False  # `user_message` is the stored parent, not a new one


@dataclass
class _Plan:
    model: Any  # catalog AIModel
    message_id: ObjectId
    max_tokens: int
    estimate: int  # the hold (common/wallet/pricing.hold_for)
    turns: list[dict] = field(default_factory=list)
    user_after: dict | None = None
    prompt_estimate: int = 0
    rates: pricing.Rates = pricing.LEGACY_RATES


# Sends in progress per process; later ones wait their turn (see `common.admission`).
_sends = Admission(lambda: get_settings().send_concurrency)


def send(cmd: SendCommand, enqueue: Callable[[str], None]) -> SendResult:
    """Validate, charge-hold and store a user turn, then `enqueue(message_id)` once per model.

    The four writes before the enqueue — today's request count (Redis), the holds, the
    messages and the session (MongoDB) — do not depend on each other, so they run at once (each
    is a round trip on the path to the first delta). If any fails, the others are undone and the
    first failure in the documented order (daily limit, then balance) is raised. With an
    idempotency key, the key is claimed before them and committed after them, before the
    enqueue (`common.chat.idempotency`).
    """
    with _sends.slot(), metrics.counting_send():
        return _send(cmd, enqueue)


def _send(cmd: SendCommand, enqueue: Callable[[str], None]) -> SendResult:
    parent = _parent(cmd) if cmd.parent_id else None
    if parent is not None:
        cmd = replace(cmd, message=parent.content or "")
    text, models, max_tokens = _validate(cmd)
    session = sessions.get_session(cmd.user.id, cmd.session_id) if cmd.session_id else None
    _check_content(text if cmd.prompt is None else "\n".join(t["content"] for t in cmd.prompt))
    _check_paywall(cmd.user, models)
    user_message_id = ObjectId()  # older than the answers' ids, so it sorts first on a tie
    plans = _plan_all(session, text, models, max_tokens, cmd.prompt, before=parent)
    result = _documents(cmd, session, text, plans, parent or user_message_id)
    claim = _claim(cmd, result, new_session=session is None)
    if isinstance(claim, idempotency.Replay):
        return _replayed(cmd.user, claim, enqueue)
    if claim is not None and claim.abandoned:
        _abandon(cmd.user, claim.abandoned)  # a dead attempt's writes, before ours
    _take_key_caps(cmd, plans, result)
    daily, held, stored, noted = _concurrently(
        lambda: _count_daily(cmd.user, plans),
        lambda: _hold_all(cmd.user, plans),
        lambda: _insert(result),
        lambda: _note_session(result, text, new_session=session is None),
    )
    writes = (daily, held, stored, noted)
    failure = next((r for r in writes if isinstance(r, BaseException)), None)
    if failure is not None:
        _undo(cmd.user, plans, result, *writes)
        _give_back_key_caps(cmd, plans, result)
        if claim is not None:
            idempotency.drop(claim)
        raise failure
    if claim is not None and not idempotency.commit(claim):
        # A retry took the key over, taking this attempt for dead: take our writes back and
        # answer with the send that owns the key now.
        _uncount_daily(cmd.user, daily)
        _abandon(cmd.user, _planned(result, new_session=session is None))
        _give_back_key_caps(cmd, plans, result)
        return _send(cmd, enqueue)
    result.user_after = plans[-1].user_after if plans else None
    for msg in result.messages:  # only now: every write above is stored (enqueue after commit)
        _enqueue_one(msg, enqueue)
    return result


@dataclass(frozen=True)
class ModelEstimate:
    model_id: str
    hold: int  # what a send would hold (the 402 threshold)
    likely: int  # the prompt and a typical answer (pricing.likely_for)
    prompt_estimate: int
    max_tokens: int
    rates: pricing.Rates


def estimate(cmd: SendCommand) -> list[ModelEstimate]:
    """Per model, the hold `send(cmd)` would place and the likely charge. Validates as a send
    does (same errors) but checks no plan, limit or balance and writes nothing."""
    parent = _parent(cmd) if cmd.parent_id else None
    if parent is not None:
        cmd = replace(cmd, message=parent.content or "")
    text, models, max_tokens = _validate(cmd)
    session = sessions.get_session(cmd.user.id, cmd.session_id) if cmd.session_id else None
    return [
        ModelEstimate(
            p.model.modelId,
            p.estimate,
            pricing.likely_for(p.prompt_estimate, p.max_tokens, p.rates),
            p.prompt_estimate,
            p.max_tokens,
            p.rates,
        )
        for p in _plan_all(session, text, models, max_tokens, before=parent)
    ]


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


def _undo(user: User, plans: list[_Plan], result: SendResult, daily, held, stored, noted) -> None:
    """Take back whichever of the four writes succeeded (each step is safe to repeat)."""
    if not isinstance(daily, BaseException):
        _uncount_daily(user, daily)
    if not isinstance(held, BaseException):
        _release(user, plans, "send failed")
    if not isinstance(stored, BaseException):
        ids = [m.id for m in _new_documents(result)]
        ChatMessage._get_collection().delete_many({"_id": {"$in": ids}})
    if not isinstance(noted, BaseException):
        sessions.unnote_turn(result.session, noted, len(_new_documents(result)))


# -- idempotency keys -----------------------------------------------------------------------------


def _claim(
    cmd: SendCommand, result: SendResult, new_session: bool
) -> idempotency.Claim | idempotency.Replay | None:
    if not cmd.idempotency_key:
        return None
    request = {
        "message": cmd.message,
        "models": cmd.models,
        "sessionId": cmd.session_id,
        "options": asdict(cmd.options),
        "parentId": cmd.parent_id,
        "prompt": cmd.prompt,
    }
    digest = idempotency.fingerprint(request)
    planned = _planned(result, new_session)
    return idempotency.claim(cmd.user.id, cmd.idempotency_key, digest, planned)


def _planned(result: SendResult, new_session: bool) -> dict:
    """The ids a send writes under its key: enough to answer a repeat, or to undo it."""
    return {
        "sessionId": result.session.sessionId,
        "newSession": new_session,
        "userMessageId": str(result.user_message.id),
        "regenerated": result.regenerated,  # the user message was stored before: keep it
        "messages": [{"messageId": str(m.id), "modelId": m.modelId} for m in result.messages],
    }


def _abandon(user: User, planned: dict) -> None:
    """Undo the writes of an attempt that lost its key. Safe to repeat, by anyone: a hold is
    released once (and not at all if it was never placed), deletes and the recount are
    idempotent. Today's request count is left as it is (counting one more is the safe side)."""
    for m in planned["messages"]:
        wallet.release(user.id, m["messageId"], reason="send retried")
    ids = [m["messageId"] for m in planned["messages"]]
    if not planned.get("regenerated"):
        ids.append(planned["userMessageId"])
    ChatMessage._get_collection().delete_many({"_id": {"$in": [ObjectId(i) for i in ids]}})
    sessions.forget_turn(planned["sessionId"], planned["newSession"])


def _replayed(user: User, replay: idempotency.Replay, enqueue: Callable[[str], None]) -> SendResult:
    """The first send's answer, from the documents it stored (they may have moved on since)."""
    planned = replay.planned
    session = ChatSession.objects(sessionId=planned["sessionId"]).first() or ChatSession(
        sessionId=planned["sessionId"], userId=user.id
    )
    ids = [ObjectId(planned["userMessageId"])]
    ids += [ObjectId(m["messageId"]) for m in planned["messages"]]
    stored = {m.id: m for m in ChatMessage.objects(id__in=ids)}

    def message(oid: ObjectId, role: str, model_id: str | None = None) -> ChatMessage:
        gone = ChatMessage(id=oid, sessionId=session.sessionId, userId=user.id, role=role)
        gone.modelId, gone.status = model_id, "deleted"
        return stored.get(oid) or gone

    user_message = message(ids[0], "user")
    messages = [
        message(oid, "assistant", m["modelId"])
        for oid, m in zip(ids[1:], planned["messages"], strict=True)
    ]
    _redrive(messages, replay, enqueue)
    return SendResult(session, user_message, messages, replayed=True)


def _redrive(messages: list[ChatMessage], replay: idempotency.Replay, enqueue) -> None:
    """Enqueue again an answer still pending long after its send: the first attempt may have
    died between committing and enqueueing. A second task for a message is a no-op."""
    age = (utcnow() - replay.started_at).total_seconds()
    if age > get_settings().idempotency_stale_seconds:
        for msg in messages:
            if msg.status == "pending":
                _enqueue_one(msg, enqueue)


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
    if not getattr(model, "isAvailable", True) or not catalog.sellable(model):
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


def _count_daily(user: User, plans: list[_Plan]) -> int:
    """Count this send's provider requests (one per model) against today's allowance (UTC),
    atomically in Redis; returns how many it counted.

    Redis is a cache of the count: when today's key is missing — the day's first send, or Redis
    lost its data — it is rebuilt from MongoDB (today's answers), so a wiped Redis never
    reopens a spent allowance.
    """
    n = len(plans)
    limit = int(user.subscription.limits.requestsPerDay or 0)
    key = _daily_key(user)
    pipe = get_redis().pipeline()
    pipe.set(key, 0, nx=True, ex=2 * 86400)
    pipe.incrby(key, n)
    pipe.expire(key, 2 * 86400)
    created, used, _ = pipe.execute()
    if created:
        earlier = _requests_today(user, exclude={p.message_id for p in plans})
        if earlier:
            used = get_redis().incrby(key, earlier)
    if limit and used > limit:
        get_redis().decrby(key, n)
        raise DailyLimit(
            f"You reached your plan's {limit} requests for today. Upgrade or come back tomorrow.",
            {"limit": limit, "used": used - n, "requested": n},
        )
    return n


def _requests_today(user: User, exclude: set[ObjectId]) -> int:
    """Today's (UTC) answers of this user in MongoDB, not counting this send's own.

    `userId__in`: nx-27017 matches an ObjectId field other than `_id` only through `$in`."""
    start = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
    ids = ChatMessage.objects(userId__in=[user.id], createdAt__gte=start, role="assistant")
    return sum(1 for oid in ids.scalar("id") if oid not in exclude)


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
    session,
    text: str,
    models: list,
    max_tokens: int,
    prompt: list[dict] | None = None,
    before: ChatMessage | None = None,
) -> list[_Plan]:
    """Per model: the message id, the conversation it will see (trimmed to its context window)
    and the hold it needs. Reads the session's history once; writes nothing. A given `prompt`
    (the API's `messages`) is sent as it is: if it does not fit, the send is refused. With
    `before` (a regenerate), the conversation ends at that user message."""
    history = _history(session) if prompt is None else []
    if before is not None:
        history = history[: next((i for i, m in enumerate(history) if m.id == before.id), 0)]
    plans = []
    for model in models:
        window = int(getattr(model, "contextWindow", 0) or 4096)
        room = min(max_tokens, max(1, window // 2))
        if prompt is not None:
            turns = _fitting(prompt, window - room, model.modelId)
        else:
            turns = trim(
                _turns_for(history, model.modelId) + [{"role": "user", "content": text}],
                window - room,
            )
        estimate, rates = estimate_prompt(turns), catalog.rates_of(model)
        hold = pricing.hold_for(estimate, room, rates)
        plan = _Plan(model, ObjectId(), room, hold, turns, prompt_estimate=estimate, rates=rates)
        plans.append(plan)
    return plans


def _fitting(prompt: list[dict], budget: int, model_id: str) -> list[dict]:
    if estimate_prompt(prompt) > budget:
        raise ValidationError(
            f"messages: about {estimate_prompt(prompt)} tokens, more than {model_id} has room "
            f"for ({budget} with the completion's room). Shorten the conversation or lower "
            "max_tokens.",
            {"field": "messages", "reason": "context_length_exceeded"},
        )
    return [dict(turn) for turn in prompt]


def _take_key_caps(cmd: SendCommand, plans: list[_Plan], result: SendResult) -> None:
    """An API key's daily/monthly caps count the holds (see `common.apikeys.caps`)."""
    if cmd.api_key is not None:
        from common.apikeys import caps

        caps.take(cmd.api_key, sum(p.estimate for p in plans), result.messages[0].day)


def _give_back_key_caps(cmd: SendCommand, plans: list[_Plan], result: SendResult) -> None:
    if cmd.api_key is not None:
        from common.apikeys import caps

        caps.give_back(str(cmd.api_key.id), sum(p.estimate for p in plans), result.messages[0].day)


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
    """The user message and one pending assistant message per model, not yet stored."""
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


def _note_session(result: SendResult, text: str, new_session: bool) -> bool:
    """Store a new session, or count the turn on an existing one; returns `new_session`
    (what `_undo` needs to take it back)."""
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
    return new_session


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
        promptEstimate=plan.prompt_estimate,
        rates=plan.rates.as_dict(),
        # A request's own conversation always travels on the message: it is not the history.
        prompt=plan.turns
        if cmd.prompt is not None or _prompt_size(plan.turns) <= PROMPT_INLINE_BYTES
        else None,
        metadata=MessageOptions(
            temperature=cmd.options.temperature,
            maxTokens=plan.max_tokens,
            topP=cmd.options.top_p,
            stop=cmd.options.stop or None,
        ),
        apiKeyId=str(cmd.api_key.id) if cmd.api_key is not None else None,
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

        not_started = ServiceUnavailable("We could not start this answer. Please retry.")
        fail_unstarted(msg, not_started, str(exc))
