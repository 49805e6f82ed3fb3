"""Chat sessions and messages, with the guide's fields and indexes.

An assistant message is also the unit of work: its `status` moves pending → streaming → one of
done / failed / cancelled / interrupted, and its id is the wallet hold's key, the Celery task's
argument and the stream channel's name.

An answer of the OpenAI-compatible API (`kind: "api"`) is the API usage record of its request:
key, model, tokens, charge, status, request id. It belongs to no session (and so to no
conversation: lists, search, history and deleting a chat never meet it).
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from common.stored import utcnow

MESSAGE_STATUSES = ("pending", "streaming", "done", "failed", "cancelled", "interrupted")
FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")


class MessageUsage(EmbeddedDocument):
    promptTokens = IntField(default=0)  # noqa: N815
    completionTokens = IntField(default=0)  # noqa: N815
    totalTokens = IntField(default=0)  # noqa: N815


class MessageOptions(EmbeddedDocument):
    temperature = FloatField()
    maxTokens = IntField()  # noqa: N815
    topP = FloatField()  # noqa: N815
    stop = ListField(StringField(), default=None)  # stop sequences (the OpenAI-compatible API)
    # OpenAI parameters passed on as they are (tools, tool_choice, parallel_tool_calls,
    # response_format): the OpenAI-compatible API's, checked against the model's capabilities.
    params = DictField(default=None)


class Moderation(EmbeddedDocument):
    """A flag on a message or session: by a user's report, an admin, or a provider's refusal."""

    flagged = BooleanField(default=False)
    source = StringField(choices=("user", "admin", "provider"))
    reason = StringField(max_length=500)
    flaggedBy = ObjectIdField()  # noqa: N815
    flaggedAt = DateTimeField()  # noqa: N815
    hidden = BooleanField(default=False)
    removed = BooleanField(default=False)  # content deleted by a moderator (record kept)
    reviewedBy = ObjectIdField()  # noqa: N815
    reviewedAt = DateTimeField()  # noqa: N815


class ChatSession(Document):
    sessionId = StringField(required=True, unique=True)  # noqa: N815  'chat_<ms>_<random>'
    userId = ObjectIdField(required=True)  # noqa: N815
    title = StringField(default="New chat", max_length=200)
    models = ListField(StringField(), default=list)
    messageCount = IntField(default=0)  # noqa: N815
    totalTokens = IntField(default=0)  # noqa: N815
    totalCost = FloatField(default=0.0)  # noqa: N815
    pinned = BooleanField(default=False)  # kept at the top of the owner's list
    # The leaf of the branch shown (a message id; common/conversations/tree.py). Unset on a
    # conversation stored before the tree until it is first read or continued.
    currentLeafId = StringField()  # noqa: N815
    lastMessageAt = DateTimeField(default=utcnow)  # noqa: N815
    moderation = EmbeddedDocumentField(Moderation, default=Moderation)
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "chatsessions",
        "indexes": [
            {"fields": ["sessionId"], "unique": True},
            {"fields": ["userId", "-lastMessageAt"]},
            {"fields": ["moderation.flagged"]},
        ],
    }


class ChatMessage(Document):
    sessionId = StringField()  # noqa: N815  every chat message has one; an API record none
    userId = ObjectIdField(required=True)  # noqa: N815
    role = StringField(required=True, choices=("user", "assistant", "system"))
    # "chat" (a conversation's message) or "api" (an API request's usage record); unset = chat.
    kind = StringField(choices=("chat", "api"))
    content = StringField(default="")
    # A user message's images (https: or data: URLs), sent with it to models that take images.
    images = ListField(StringField(), default=None)
    modelId = StringField()  # noqa: N815
    # The message this one follows: an answer's user message; a user message's answer (or
    # null for the first). See common/conversations/tree.py.
    parentId = ObjectIdField()  # noqa: N815
    status = StringField(choices=MESSAGE_STATUSES, default="done")
    usage = EmbeddedDocumentField(MessageUsage, default=MessageUsage)
    cost = FloatField(default=0.0)  # provider's reported cost (USD), when reported
    charged = IntField(default=0)  # tokens taken from the wallet for this message
    reserved = IntField(default=0)  # the hold placed for it
    # What the charge needs, fixed at send time (common/wallet/pricing.py): the prompt estimate
    # and the rates the hold was placed at, so a catalog price change cannot alter the charge.
    promptEstimate = IntField()  # noqa: N815
    rates = DictField(default=None)  # {prompt, completion}: wallet tokens per 1K tokens
    # Set when the answer is charged (done / cancelled): DESIGN.md's receipt.
    receipt = DictField(default=None)
    providerCost = FloatField()  # noqa: N815  the provider's own reported cost (USD), if sent
    metadata = EmbeddedDocumentField(MessageOptions, default=MessageOptions)
    error = DictField()  # {code, message, reason}
    lastSeq = IntField(default=0)  # noqa: N815  last chunk seq published
    attempts = IntField(default=0)
    ttftMs = FloatField()  # noqa: N815  time to first token
    durationMs = FloatField()  # noqa: N815
    tokensPerSecond = FloatField()  # noqa: N815
    startedAt = DateTimeField()  # noqa: N815
    completedAt = DateTimeField()  # noqa: N815
    moderation = EmbeddedDocumentField(Moderation, default=Moderation)
    # The run that owns a streaming message (set by the claim, cleared when it ends).
    claimToken = StringField()  # noqa: N815
    # Which `settlement.settle` call ended it (lets a retry after a lost reply recognise its own).
    endedBy = StringField()  # noqa: N815
    # Set while its final frame could not reach Redis; the reaper publishes it and clears it.
    finalPending = BooleanField()  # noqa: N815
    # A provider refused it under its content policy (its reason); the admins' flag is still to
    # be set (`common.engine.aftermath`).
    moderationPending = StringField()  # noqa: N815
    # Times the reaper enqueued it again while no worker had claimed it (and when it last did).
    requeues = IntField(default=0)
    requeuedAt = DateTimeField()  # noqa: N815
    # Set once the answer's tokens and cost were counted on its session and user.
    statsApplied = BooleanField(default=False)  # noqa: N815
    # The conversation as sent (trimmed to the context window), carried from the send to the
    # worker when small so the worker need not query the history; unset when the answer ends.
    prompt = ListField(DictField(), default=None)
    # The API key an answer was asked through (`/v1`); its ledger entry is marked as API usage.
    apiKeyId = StringField()  # noqa: N815
    keyCapped = BooleanField()  # noqa: N815  the key had caps (its end gives back the unspent)
    requestId = StringField()  # noqa: N815  the API request's X-Request-ID
    # On the first document a send with an idempotency key stored (`common.sending.idempotency`):
    # the key as `<user id>:<key>` (unique where set), and what the send wrote under it —
    # {fingerprint, answers: [{messageId, modelId}], newSession}.
    requestKey = StringField()  # noqa: N815
    keyedSend = DictField(default=None)  # noqa: N815
    # Tried in order when `modelId`'s provider fails before the first token: [{modelId, rates}]
    # (`common.sending.fallbacks`). When one of them answers, `modelId` and `rates` become its
    # own at settlement and `requestedModelId` keeps the model asked for.
    fallbacks = ListField(DictField(), default=None)
    requestedModelId = StringField()  # noqa: N815
    # The answer's tool calls, in OpenAI's shape [{id, type, function: {name, arguments}}], and
    # the provider's finish reason (stop, length, tool_calls, content_filter).
    toolCalls = ListField(DictField(), default=None)  # noqa: N815
    finishReason = StringField()  # noqa: N815
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    # UTC day of creation ("YYYY-MM-DD"): the analytics range filter (common.admin.analytics)
    day = StringField(default=lambda: utcnow().date().isoformat())
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "chatmessages",
        "indexes": [
            {"fields": ["sessionId", "createdAt"]},
            # Redundant on MongoDB (the compound index serves the prefix), but nx-27017 uses an
            # index only for an exact match of its fields: without this, every send's history
            # query scans the whole collection there.
            {"fields": ["sessionId"]},
            {"fields": ["userId", "-createdAt"]},
            {"fields": ["status", "updatedAt"]},
            {"fields": ["modelId", "createdAt"]},
            {"fields": ["createdAt"]},
            {"fields": ["day", "role"]},
            {"fields": ["userId", "kind", "-createdAt"]},
            {"fields": ["moderation.flagged"]},
            {"fields": ["requestKey"], "unique": True, "sparse": True},
        ],
    }
