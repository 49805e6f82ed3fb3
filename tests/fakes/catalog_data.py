"""The fake OpenRouter's default `/models` list: a realistic slice of the real catalog.

Prices are strings in USD per token, as OpenRouter sends them. The guide's preferred free
models are here, other `:free` models, paid ones with nonzero prices, and `fake/echo`.
`supported_parameters` says which take tools and structured output (`STRUCTURED`: tools,
`response_format` and `structured_outputs`; the rest plain sampling parameters), and some
carry the `hugging_face_id` of their weights, as OpenRouter lists them.
"""

from __future__ import annotations

import copy

# (id, name, context_length, prompt price, completion price, input modalities)
_ROWS: list[tuple[str, str, int, str, str, tuple[str, ...]]] = [
    (
        "meta-llama/llama-3.1-405b-instruct:free",
        "Meta: Llama 3.1 405B Instruct (free)",
        131072,
        "0",
        "0",
        ("text",),
    ),
    ("deepseek/deepseek-r1:free", "DeepSeek: R1 (free)", 163840, "0", "0", ("text",)),
    (
        "agentica/deepcoder:free",
        "Agentica: Deepcoder 14B Preview (free)",
        96000,
        "0",
        "0",
        ("text",),
    ),
    ("arliai/qwq-32b-preview:free", "ArliAI: QwQ 32B RpR v1 (free)", 32768, "0", "0", ("text",)),
    (
        "mistralai/mistral-7b-instruct:free",
        "Mistral: Mistral 7B Instruct (free)",
        32768,
        "0",
        "0",
        ("text",),
    ),
    ("google/gemma-2-9b-it:free", "Google: Gemma 2 9B (free)", 8192, "0", "0", ("text",)),
    (
        "meta-llama/llama-3.2-3b-instruct:free",
        "Meta: Llama 3.2 3B Instruct (free)",
        131072,
        "0",
        "0",
        ("text",),
    ),
    ("qwen/qwen-2.5-72b-instruct:free", "Qwen2.5 72B Instruct (free)", 32768, "0", "0", ("text",)),
    (
        "microsoft/phi-3-mini-128k-instruct:free",
        "Microsoft: Phi-3 Mini 128K Instruct (free)",
        128000,
        "0",
        "0",
        ("text",),
    ),
    (
        "google/gemini-2.0-flash-exp:free",
        "Google: Gemini 2.0 Flash Experimental (free)",
        1048576,
        "0",
        "0",
        ("text", "image"),
    ),
    (
        "nousresearch/hermes-3-llama-3.1-405b:free",
        "Nous: Hermes 3 405B Instruct (free)",
        131072,
        "0",
        "0",
        ("text",),
    ),
    (
        "huggingfaceh4/zephyr-7b-beta:free",
        "Hugging Face: Zephyr 7B (free)",
        4096,
        "0",
        "0",
        ("text",),
    ),
    ("openchat/openchat-7b:free", "OpenChat 3.5 7B (free)", 8192, "0", "0", ("text",)),
    ("fake/echo", "Fake: Echo", 8192, "0", "0", ("text",)),
    ("openai/gpt-4o", "OpenAI: GPT-4o", 128000, "0.0000025", "0.00001", ("text", "image")),
    (
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        128000,
        "0.00000015",
        "0.0000006",
        ("text", "image"),
    ),
    ("openai/gpt-4-turbo", "OpenAI: GPT-4 Turbo", 128000, "0.00001", "0.00003", ("text", "image")),
    ("openai/o1-mini", "OpenAI: o1-mini", 128000, "0.0000011", "0.0000044", ("text",)),
    (
        "anthropic/claude-3.5-sonnet",
        "Anthropic: Claude 3.5 Sonnet",
        200000,
        "0.000003",
        "0.000015",
        ("text", "image"),
    ),
    (
        "anthropic/claude-3-opus",
        "Anthropic: Claude 3 Opus",
        200000,
        "0.000015",
        "0.000075",
        ("text", "image"),
    ),
    (
        "anthropic/claude-3-haiku",
        "Anthropic: Claude 3 Haiku",
        200000,
        "0.00000025",
        "0.00000125",
        ("text", "image"),
    ),
    (
        "google/gemini-pro-1.5",
        "Google: Gemini 1.5 Pro",
        2000000,
        "0.00000125",
        "0.000005",
        ("text", "image"),
    ),
    (
        "meta-llama/llama-3.1-405b-instruct",
        "Meta: Llama 3.1 405B Instruct",
        32768,
        "0.0000008",
        "0.0000008",
        ("text",),
    ),
    (
        "meta-llama/llama-3.1-70b-instruct",
        "Meta: Llama 3.1 70B Instruct",
        131072,
        "0.00000012",
        "0.0000003",
        ("text",),
    ),
    ("deepseek/deepseek-r1", "DeepSeek: R1", 163840, "0.00000055", "0.00000219", ("text",)),
    (
        "deepseek/deepseek-chat",
        "DeepSeek: DeepSeek V3",
        163840,
        "0.00000038",
        "0.00000089",
        ("text",),
    ),
    ("mistralai/mistral-large", "Mistral Large", 128000, "0.000002", "0.000006", ("text",)),
    ("cohere/command-r-plus", "Cohere: Command R+", 128000, "0.0000025", "0.00001", ("text",)),
    ("x-ai/grok-2-1212", "xAI: Grok 2 1212", 131072, "0.000002", "0.00001", ("text",)),
    (
        "qwen/qwen-2.5-coder-32b-instruct",
        "Qwen2.5 Coder 32B Instruct",
        32768,
        "0.00000007",
        "0.00000016",
        ("text",),
    ),
    (
        "perplexity/llama-3.1-sonar-large-128k-online",
        "Perplexity: Llama 3.1 Sonar 70B Online",
        127072,
        "0.000001",
        "0.000001",
        ("text",),
    ),
]


BASIC_PARAMETERS = ["max_tokens", "temperature", "top_p", "stop"]
STRUCTURED_PARAMETERS = [
    *BASIC_PARAMETERS,
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "structured_outputs",
]
# Models whose listing has tools and structured output (the others: sampling parameters only).
STRUCTURED = {
    "fake/echo",
    "google/gemini-2.0-flash-exp:free",
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-4-turbo",
    "anthropic/claude-3.5-sonnet",
    "anthropic/claude-3-opus",
    "anthropic/claude-3-haiku",
    "google/gemini-pro-1.5",
    "meta-llama/llama-3.1-70b-instruct",
    "mistralai/mistral-large",
}
HF_IDS = {
    "meta-llama/llama-3.1-405b-instruct:free": "meta-llama/Llama-3.1-405B-Instruct",
    "meta-llama/llama-3.1-405b-instruct": "meta-llama/Llama-3.1-405B-Instruct",
    "meta-llama/llama-3.1-70b-instruct": "meta-llama/Llama-3.1-70B-Instruct",
    "mistralai/mistral-7b-instruct:free": "mistralai/Mistral-7B-Instruct-v0.3",
    "qwen/qwen-2.5-72b-instruct:free": "Qwen/Qwen2.5-72B-Instruct",
}


def _entry(row: tuple[str, str, int, str, str, tuple[str, ...]]) -> dict:
    model_id, name, context, prompt, completion, modalities = row
    return {
        "id": model_id,
        "canonical_slug": model_id.split(":")[0],
        "name": name,
        "created": 1720000000,
        "description": f"{name}. A fake catalog entry for local tests.",
        "context_length": context,
        "architecture": {
            "modality": "+".join(modalities) + "->text",
            "input_modalities": list(modalities),
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": min(context, 16384),
            "is_moderated": model_id.startswith(("openai/", "anthropic/")),
        },
        "per_request_limits": None,
        "supported_parameters": list(
            STRUCTURED_PARAMETERS if model_id in STRUCTURED else BASIC_PARAMETERS
        ),
        "hugging_face_id": HF_IDS.get(model_id, ""),
    }


def default_models() -> list[dict]:
    """A fresh copy of the default list (callers may mutate it)."""
    return copy.deepcopy([_entry(row) for row in _ROWS])


def model_entry(
    model_id: str,
    name: str | None = None,
    prompt: str = "0",
    completion: str = "0",
    context_length: int = 8192,
    modalities: tuple[str, ...] = ("text",),
    structured: bool = False,
    hugging_face_id: str = "",
) -> dict:
    """One `/models` entry, for tests that replace the list."""
    entry = _entry((model_id, name or model_id, context_length, prompt, completion, modalities))
    entry["supported_parameters"] = list(STRUCTURED_PARAMETERS if structured else BASIC_PARAMETERS)
    entry["hugging_face_id"] = hugging_face_id
    return entry


def hf_entry(
    model_id: str,
    prompt_per_million: float = 0.0,
    completion_per_million: float = 0.0,
    context_length: int = 32768,
    tools: bool = True,
    structured_output: bool = True,
    modalities: tuple[str, ...] = ("text",),
) -> dict:
    """One entry of Hugging Face's router `/models` list: the serving providers, with prices
    per million tokens and what each takes."""
    return {
        "id": model_id,
        "object": "model",
        "created": 1720000000,
        "owned_by": model_id.split("/")[0],
        "architecture": {"input_modalities": list(modalities), "output_modalities": ["text"]},
        "providers": [
            {
                "provider": "fake-inference",
                "status": "live",
                "context_length": context_length,
                "pricing": {"input": prompt_per_million, "output": completion_per_million},
                "supports_tools": tools,
                "supports_structured_output": structured_output,
            }
        ],
    }
