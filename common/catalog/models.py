"""The model catalog: one `AIModel` document per model a user can pick, with the guide's fields.

Ids. `modelId` is what users and the API see and what messages store; `providerModelId` is what
is sent to the provider. OpenRouter ids are used as they are (`vendor/model[:variant]`, e.g.
`deepseek/deepseek-r1:free`). Hugging Face ids are prefixed `hf:` (`hf:meta-llama/Llama-3.1-8B`)
and OpenAI-compatible servers' ids `local:` (`local:llama3.1`). The prefixes cannot collide
with OpenRouter ids: those always start with a vendor slug and put their only colon after the
slash, while ours put a colon before any slash.

Prices are stored per token (as providers quote them) and per 1K tokens (the guide's view),
both in USD.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from common.stored import utcnow

PROVIDERS = ("openrouter", "huggingface", "openai")
ID_PREFIXES = {"openrouter": "", "huggingface": "hf:", "openai": "local:"}


def catalog_id(provider: str, provider_model_id: str) -> str:
    """The `modelId` for a provider's own model id (see the module docstring)."""
    return ID_PREFIXES[provider] + provider_model_id


class ModelPricing(EmbeddedDocument):
    input = FloatField(default=0.0)  # USD per 1K prompt tokens
    output = FloatField(default=0.0)  # USD per 1K completion tokens
    prompt = FloatField(default=0.0)  # USD per prompt token
    completion = FloatField(default=0.0)  # USD per completion token


class AIModel(Document):
    modelId = StringField(required=True, unique=True, max_length=300)  # noqa: N815
    providerModelId = StringField(required=True, max_length=300)  # noqa: N815
    name = StringField(required=True, max_length=300)
    provider = StringField(required=True, choices=PROVIDERS)
    description = StringField(default="")
    pricing = EmbeddedDocumentField(ModelPricing, default=ModelPricing)
    contextWindow = IntField(default=4096)  # noqa: N815
    capabilities = ListField(StringField(), default=list)  # the guide's tags (text, code, ...)
    # What the model takes, as its provider lists it (`capabilities_of` in the service).
    inputModalities = ListField(StringField(), default=lambda: ["text"])  # noqa: N815
    features = ListField(StringField(), default=list)  # tools, json_object, json_schema
    # The Hugging Face repo of its weights, lower case: the same model through other providers.
    hfId = StringField(default="")  # noqa: N815
    isFree = BooleanField(default=True)  # noqa: N815
    isAvailable = BooleanField(default=True)  # noqa: N815
    # The default order's group: 0-3 the guide's preferred free models, 10 other free, 20 paid.
    sortRank = IntField(default=20)  # noqa: N815
    lastChecked = DateTimeField()  # noqa: N815
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "aimodels",
        "indexes": [
            {"fields": ["provider", "isAvailable"]},
            {"fields": ["sortRank", "pricing.prompt"]},
            {"fields": ["hfId"]},
        ],
    }
