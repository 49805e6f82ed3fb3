"""Sending a message (DESIGN.md chat flow, step 1).

Checks run in the documented order — validation (`validation`), paywall
(`common.payments.subscriptions`), daily limit (`daily`), balance (`holds`) — and nothing is
written until all pass. Then, per model, one wallet hold (keyed by the assistant message id) and
one pending assistant message; the user message and the session (a new one's document, or the
turn counted on an existing one); and only then the tasks are enqueued, so a worker always finds
everything it was sent for — settlement adds the answer's totals to the session document, which
must exist by then. Each task carries its hold as placed, so settling it reads nothing first.

An API request (`/v1`, `SendCommand.is_api`) is not a conversation: no session, no user message
(its prompt travels on the answer). Its pending answer, marked `kind: "api"` with the key and the
request id, is its API usage record: the same document the worker runs, ends and charges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from bson import ObjectId
from pymongo.errors import BulkWriteError

from common import metrics
from common.admission import Admission
from common.apikeys import caps
from common.conversations import branches, sessions
from common.conversations.models import ChatMessage, ChatSession, MessageOptions
from common.conversations.tokens import turn_text
from common.conversations.tree import Tree
from common.engine import ending
from common.errors import Conflict, ContentBlocked, NotFound, ServiceUnavailable, ValidationError
from common.moderation.service import record_blocked_attempt
from common.moderation.terms import check_blocked
from common.payments.subscriptions import check_paywall
from common.sending import daily, idempotency
from common.sending.command import SendCommand, SendResult
from common.sending.fallbacks import fallback_models
from common.sending.fanout import concurrently
from common.sending.holds import hold_all, release_all
from common.sending.planning import Plan, plan_all
from common.sending.validation import validate
from common.stored import as_utc, object_id_or_none, utcnow
from common.users.models import User
from common.wallet import pricing
from common.wallet import service as wallet
from config import get_settings

log = logging.getLogger(__name__)

# Conversations up to this size travel on the pending message (no history query in the worker).
PROMPT_INLINE_BYTES = 16_384


# Sends in progress per process; later ones wait their turn (see `common.admission`).
_sends = Admission(lambda: get_settings().send_concurrency)


def send(cmd: SendCommand, enqueue: Callable[..., None]) -> SendResult:
    """Validate, charge-hold and store a user turn, then `enqueue(message_id, hold=...)` once per
    model (`hold`: the hold placed for it, `wallet.Hold.placed()`).

    The four writes before the enqueue — today's request count (Redis), the holds, the
    messages and the session (MongoDB) — do not depend on each other, so they run at once (each
    is a round trip on the path to the first delta). If any fails, the others are undone and the
    first failure in the documented order (daily limit, then balance) is raised. With an
    idempotency key, the messages' insert is the key's claim: refused, another send owns the
    key and answers (`common.sending.idempotency`).
    """
    with _sends.slot(), metrics.counting_send():
        return _send(cmd, enqueue)


def _send(cmd: SendCommand, enqueue: Callable[..., None]) -> SendResult:
    parent = _parent(cmd) if cmd.parent_id else None
    if parent is not None:
        cmd = _again(cmd, parent)
    text, models, max_tokens = validate(cmd)
    session = sessions.get_session(cmd.user.id, cmd.session_id) if cmd.session_id else None
    tree = branches.tree_of(session) if session is not None else None
    follows = _follows(cmd, tree, session, parent)
    _check_blocked(cmd, text)
    check_paywall(cmd.user, models)
    fallbacks = (
        fallback_models(cmd, models[0]) if cmd.fallbacks or cmd.same_model_fallback else ([], [])
    )
    user_message_id = ObjectId()  # older than the answers' ids, so it sorts first on a tie
    plans = plan_all(
        tree,
        follows,
        text,
        models,
        max_tokens,
        cmd.prompt,
        params=cmd.params,
        fallbacks=fallbacks,
        images=cmd.images,
    )
    result = _documents(cmd, session, text, plans, parent or user_message_id, follows)
    result.leaf_id = _leaf_after(tree, session, result)
    digest = _key(cmd, result, new_session=session is None)
    leaf_before = session.currentLeafId if session is not None else None
    _take_key_caps(cmd, plans, result)
    counted, held, stored, noted = concurrently(
        lambda: daily.count(cmd.user, len(plans), {p.message_id for p in plans}),
        lambda: hold_all(cmd.user, plans),
        lambda: _insert(result),
        lambda: _note_session(result, text, new_session=session is None),
    )
    writes = (counted, held, stored, noted)
    if isinstance(stored, idempotency.KeyTaken):
        # Another send owns the key. Ours may have failed only because of it (its hold took the
        # balance, its request the day's last one): the owner decides the answer.
        _undo(cmd.user, plans, result, *writes, leaf_before)
        _give_back_key_caps(cmd, plans, result)
        return _repeat(cmd, digest, enqueue)
    failure = next((r for r in writes if isinstance(r, BaseException)), None)
    if failure is not None:
        _undo(cmd.user, plans, result, *writes, leaf_before)
        _give_back_key_caps(cmd, plans, result)
        raise failure
    result.user_after = plans[-1].user_after if plans else None
    for msg, plan in zip(result.messages, plans, strict=True):
        _enqueue_one(msg, enqueue, plan.hold)  # only now: every write above is stored
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
        cmd = _again(cmd, parent)
    text, models, max_tokens = validate(cmd)
    session = sessions.get_session(cmd.user.id, cmd.session_id) if cmd.session_id else None
    tree = branches.tree_of(session) if session is not None else None
    follows = _follows(cmd, tree, session, parent)
    return [
        ModelEstimate(
            p.model.modelId,
            p.estimate,
            pricing.likely_for(p.prompt_estimate, p.max_tokens, p.rates),
            p.prompt_estimate,
            p.max_tokens,
            p.rates,
        )
        for p in plan_all(tree, follows, text, models, max_tokens, images=cmd.images)
    ]


def _again(cmd: SendCommand, parent: ChatMessage) -> SendCommand:
    """A regenerate asks again what the stored user message asked: its text and its images."""
    images = list(parent.images or [])
    needs = replace(cmd.needs, image_param="images") if images else cmd.needs
    return replace(cmd, message=parent.content or "", images=images, needs=needs)


def _parent(cmd: SendCommand) -> ChatMessage:
    """The user message a regenerate answers again: the caller's, in the named session."""
    if not cmd.session_id:
        raise ValidationError("sessionId: required with parentId", {"field": "sessionId"})
    if cmd.edit_of or cmd.after_id:
        raise ValidationError(
            "parentId: a regenerate takes neither editOf nor afterId", {"field": "parentId"}
        )
    oid = object_id_or_none(cmd.parent_id)
    if oid is None:
        raise NotFound("Message not found.")
    msg = ChatMessage.objects(
        id=oid, userId__in=[cmd.user.id], sessionId=cmd.session_id, role="user"
    ).first()
    if msg is None:
        raise NotFound("Message not found.")
    return msg


def _check_blocked(cmd: SendCommand, text: str) -> None:
    """Refuse a blocked term, and put the attempt in the moderation queue with the term."""
    sent = text if cmd.prompt is None else "\n".join(turn_text(t) for t in cmd.prompt)
    try:
        check_blocked(sent)
    except ContentBlocked as refused:
        term = str((refused.details or {}).get("term") or "")
        via = "api" if cmd.api_key is not None else "chat"
        record_blocked_attempt(cmd.user.id, cmd.session_id, sent, term, via)
        raise


def _follows(
    cmd: SendCommand, tree: Tree | None, session: ChatSession | None, parent: ChatMessage | None
) -> ObjectId | None:
    """The message the user turn follows: a regenerated message's own parent, an edited
    message's parent (a sibling starts a new branch), `afterId`, or the session's current
    leaf; None starts the conversation."""
    for field, value in (("editOf", cmd.edit_of), ("afterId", cmd.after_id)):
        if value and session is None:
            raise ValidationError(f"sessionId: required with {field}", {"field": "sessionId"})
    if tree is None:
        return None
    if parent is not None:
        return tree.parent_id(tree.by_id[parent.id]) if parent.id in tree.by_id else None
    if cmd.edit_of:
        edited = tree.by_id.get(object_id_or_none(cmd.edit_of))
        if edited is None or edited.role != "user":
            raise NotFound("Message not found.")
        return tree.parent_id(edited)
    if cmd.after_id:
        oid = object_id_or_none(cmd.after_id)
        if oid not in tree.by_id:
            raise NotFound("Message not found.")
        return oid
    shown = tree.path(object_id_or_none(session.currentLeafId))
    return shown[-1].id if shown else None


def _leaf_after(tree: Tree | None, session: ChatSession | None, result: SendResult) -> str:
    """The branch the session shows after this send: the new turn's first answer, or for a
    regenerate the new answer unless it is another column of a comparison (`Tree`)."""
    first = result.messages[0].id
    if not result.regenerated or tree is None:
        return str(first)
    leaf = object_id_or_none(session.currentLeafId) if session is not None else None
    model = result.messages[0].modelId
    return str(tree.leaf_after_regenerate(leaf, result.user_message.id, model, first))


def _undo(
    user: User,
    plans: list[Plan],
    result: SendResult,
    counted,
    held,
    stored,
    noted,
    leaf_before: str | None,
) -> None:
    """Take back whichever of the four writes succeeded (each step is safe to repeat);
    `leaf_before`: the branch the session showed before the send."""
    if not isinstance(counted, BaseException):
        daily.uncount(user, counted)
    if not isinstance(held, BaseException):
        release_all(user, plans, "send failed")
    if not isinstance(stored, BaseException):
        ids = [m.id for m in _new_documents(result)]
        ChatMessage._get_collection().delete_many({"_id": {"$in": ids}})
    if not isinstance(noted, BaseException) and result.session is not None:
        count = len(_new_documents(result))
        sessions.unnote_turn(result.session, noted, count, (result.leaf_id, leaf_before))


# -- idempotency keys (`common.sending.idempotency`) ----------------------------------------------


def _key(cmd: SendCommand, result: SendResult, new_session: bool) -> str | None:
    """With an idempotency key, write it on the first document the send stores (its insert is
    the claim) with what the send stores under it; returns the request's fingerprint."""
    if not cmd.idempotency_key:
        return None
    request = {
        "message": cmd.message,
        "models": cmd.models,
        "sessionId": cmd.session_id,
        "options": asdict(cmd.options),
        "parentId": cmd.parent_id,
        "editOf": cmd.edit_of,
        "afterId": cmd.after_id,
        "prompt": cmd.prompt,
        "images": cmd.images,
    }
    digest = idempotency.fingerprint(request)
    first = _new_documents(result)[0]
    first.requestKey = idempotency.stored_key(cmd.user.id, cmd.idempotency_key)
    first.keyedSend = {
        "fingerprint": digest,
        "answers": [{"messageId": str(m.id), "modelId": m.modelId} for m in result.messages],
        "newSession": new_session and result.session is not None,
    }
    return digest


@dataclass
class _Owner:
    """The send that stored a key, as it is now."""

    keyed: ChatMessage  # the document carrying the key
    session: ChatSession | None
    user_message: ChatMessage | None
    answers: list[ChatMessage]
    holds: dict[str, wallet.Hold]  # the answers' open holds

    @property
    def complete(self) -> bool:
        """Every write of the send is stored: its session, and each answer's hold (unless the
        answer has moved on from `pending`, which only a stored, enqueued send's can)."""
        if self.keyed.sessionId and self.session is None:
            return False
        return all(m.status != "pending" or str(m.id) in self.holds for m in self.answers)


def _repeat(cmd: SendCommand, digest: str, enqueue: Callable[..., None]) -> SendResult:
    """Another send stored this key: answer with it, wait for it, or send afresh where it is
    gone, past the window or dead (see `common.sending.idempotency`)."""
    settings = get_settings()
    key = idempotency.stored_key(cmd.user.id, cmd.idempotency_key)
    deadline = time.monotonic() + settings.idempotency_wait_seconds
    while True:
        keyed = ChatMessage.objects(requestKey=key).first()
        if keyed is None:  # it failed (or was deleted) meanwhile: the key is free
            return _send(cmd, enqueue)
        age = (utcnow() - as_utc(keyed.createdAt)).total_seconds()
        if age > settings.idempotency_window_seconds:
            ChatMessage._get_collection().update_one(
                {"_id": keyed.id, "requestKey": key},
                {"$unset": {"requestKey": "", "keyedSend": ""}},
            )
            return _send(cmd, enqueue)
        if (keyed.keyedSend or {}).get("fingerprint") != digest:
            raise Conflict(
                "This idempotency key was already used for a different request.",
                {"field": "Idempotency-Key", "key": cmd.idempotency_key},
            )
        owner = _owner(cmd.user, keyed)
        stale = age > settings.idempotency_stale_seconds
        if owner.complete:
            return _replayed(owner, enqueue, redrive=stale)
        if stale:  # its web process died mid-send
            _abandon(cmd.user, owner)
            return _send(cmd, enqueue)
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this idempotency key is still being processed; retry shortly.",
                {
                    "field": "Idempotency-Key",
                    "key": cmd.idempotency_key,
                    "inProgress": True,
                    "retryAfter": 1,
                },
            )
        time.sleep(0.05)


def _owner(user: User, keyed: ChatMessage) -> _Owner:
    """Read the documents of the send that stored `keyed`; an answer deleted since stands as
    `deleted`."""
    answers = keyed.keyedSend.get("answers") or []
    ids = [ObjectId(a["messageId"]) for a in answers]
    regenerated = keyed.role != "user"
    user_id = keyed.parentId if regenerated else keyed.id
    stored = {m.id: m for m in ChatMessage.objects(id__in=[*ids, user_id])}
    stored[keyed.id] = keyed

    def message(oid: ObjectId, role: str, model_id: str | None = None) -> ChatMessage:
        gone = ChatMessage(id=oid, sessionId=keyed.sessionId, userId=user.id, role=role)
        gone.modelId, gone.status = model_id, "deleted"
        return stored.get(oid) or gone

    messages = [
        message(oid, "assistant", a["modelId"]) for oid, a in zip(ids, answers, strict=True)
    ]
    pending = [str(m.id) for m in messages if m.status == "pending"]
    session = ChatSession.objects(sessionId=keyed.sessionId).first() if keyed.sessionId else None
    return _Owner(
        keyed,
        session,
        message(user_id, "user") if user_id else None,
        messages,
        wallet.get_holds(user.id, pending) if pending else {},
    )


def _abandon(user: User, owner: _Owner) -> None:
    """Undo the writes of a send that died mid-send. Safe to repeat, by anyone: a hold is
    released once (and not at all if it was never placed), deletes and the recount are
    idempotent. Today's request count is left as it is (counting one more is the safe side)."""
    for m in owner.answers:
        wallet.release(user.id, str(m.id), reason="send retried")
    ids = [m.id for m in owner.answers]
    if owner.keyed.role == "user":
        ids.append(owner.keyed.id)
    ChatMessage._get_collection().delete_many({"_id": {"$in": ids}})
    if owner.keyed.sessionId:
        sessions.forget_turn(owner.keyed.sessionId, owner.keyed.keyedSend.get("newSession"))


def _replayed(owner: _Owner, enqueue: Callable[..., None], redrive: bool) -> SendResult:
    """The first send's answer, from the documents it stored (they may have moved on since).
    `redrive`: it is older than `IDEMPOTENCY_STALE_SECONDS`, and an answer still pending may
    never have been enqueued (its web process died first): enqueue it with its hold; a second
    task for an answer is a no-op."""
    if redrive:
        for msg in owner.answers:
            if msg.status == "pending":
                _enqueue_one(msg, enqueue, owner.holds[str(msg.id)].placed())
    session = owner.session
    return SendResult(
        session,
        owner.user_message,
        owner.answers,
        replayed=True,
        regenerated=owner.keyed.role != "user",
        leaf_id=session.currentLeafId if session is not None else None,
    )


# -- holds and documents --------------------------------------------------------------------------


def _take_key_caps(cmd: SendCommand, plans: list[Plan], result: SendResult) -> None:
    """An API key's daily/monthly caps count the holds (see `common.apikeys.caps`)."""
    if cmd.api_key is not None:
        caps.take(cmd.api_key, sum(p.estimate for p in plans), result.messages[0].day)


def _give_back_key_caps(cmd: SendCommand, plans: list[Plan], result: SendResult) -> None:
    if cmd.api_key is not None:
        caps.give_back(str(cmd.api_key.id), sum(p.estimate for p in plans), result.messages[0].day)


def _documents(
    cmd: SendCommand,
    session: ChatSession | None,
    text: str,
    plans: list[Plan],
    user_message: ObjectId | ChatMessage,
    follows: ObjectId | None,
) -> SendResult:
    """The user message and one pending assistant message per model, not yet stored (an API
    request's answers alone: its usage records)."""
    if cmd.is_api:
        return SendResult(None, None, [_assistant(cmd, None, None, plan) for plan in plans])
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
            images=cmd.images or None,
            status="done",
            parentId=follows,
        )
    )
    messages = [_assistant(cmd, session, user_msg, plan) for plan in plans]
    return SendResult(session, user_msg, messages, regenerated=regenerated)


def _new_documents(result: SendResult) -> list[ChatMessage]:
    if result.regenerated or result.user_message is None:
        return result.messages
    return [result.user_message, *result.messages]


def _insert(result: SendResult) -> None:
    """Store the user message and the pending assistant messages in one round trip. The first
    carries the idempotency key, if any: refused by the unique index, nothing is stored
    (`KeyTaken`)."""
    docs = [m.to_mongo() for m in _new_documents(result)]
    try:
        ChatMessage._get_collection().insert_many(docs, ordered=True)
    except BulkWriteError as exc:
        first = (exc.details.get("writeErrors") or [{}])[0]
        if "requestKey" in docs[0] and first.get("index") == 0 and first.get("code") == 11000:
            raise idempotency.KeyTaken() from None
        raise


def _note_session(result: SendResult, text: str, new_session: bool) -> bool:
    """Store a new session, or count the turn on an existing one; returns `new_session`
    (what `_undo` needs to take it back). An API request has none."""
    session = result.session
    if session is None:
        return False
    if new_session:
        session.title = sessions.title_from(text)
        session.models = [m.modelId for m in result.messages]
        session.messageCount = 1 + len(result.messages)
        session.currentLeafId = result.leaf_id
        session.save(force_insert=True)
    else:
        models = [m.modelId for m in result.messages]
        sessions.note_turn(session, text, models, len(_new_documents(result)), result.leaf_id)
        session.reload()
    return new_session


def _assistant(
    cmd: SendCommand, session: ChatSession | None, user_msg: ChatMessage | None, plan: Plan
) -> ChatMessage:
    msg = ChatMessage(
        id=plan.message_id,
        sessionId=session.sessionId if session else None,
        userId=cmd.user.id,
        role="assistant",
        kind="api" if cmd.is_api else "chat",
        modelId=plan.model.modelId,
        parentId=user_msg.id if user_msg else None,
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
            params=cmd.params or None,
        ),
        apiKeyId=str(cmd.api_key.id) if cmd.api_key is not None else None,
        # Whether the key's caps count this answer (only then does its end give any back).
        keyCapped=caps.capped(cmd.api_key) if cmd.api_key is not None else None,
        requestId=cmd.request_id if cmd.is_api else None,
        fallbacks=plan.fallbacks or None,
    )
    msg.validate()
    return msg


def _prompt_size(turns: list[dict]) -> int:
    return sum(len(turn_text(t)) + _image_bytes(t) + 16 for t in turns)


def _image_bytes(turn: dict) -> int:
    content = turn.get("content")
    if not isinstance(content, list):
        return 0
    return sum(len(str((p.get("image_url") or {}).get("url", ""))) for p in content)


def _enqueue_one(msg: ChatMessage, enqueue: Callable[..., None], hold: dict | None = None) -> None:
    """Enqueue after storing; if the broker refuses, fail the message and free its hold now."""
    try:
        enqueue(str(msg.id), hold=hold)
    except Exception as exc:
        log.exception("enqueue failed for %s", msg.id)
        not_started = ServiceUnavailable("We could not start this answer. Please retry.")
        ending.fail_unstarted(msg, not_started, str(exc))
