"""Images attached to a chat message (the web client's), in this process: they reach a model
that takes images, stay on the stored user message, and a model that does not is refused."""

from __future__ import annotations

import pytest

from common.conversations.models import ChatMessage
from common.engine.completion import complete
from common.errors import UnsupportedParameter
from common.sending.command import Needs
from tests.service.chat.conftest import FREE
from tests.unit.chat.test_image_tokens import data_url

VISION = "google/gemini-2.0-flash-exp:free"


def test_an_attached_image_reaches_a_vision_model_and_later_turns_keep_it(
    provider, member, send_as
):
    user, image = member(), data_url(640, 480, "JPEG")
    needs = Needs(image_param="images")
    first = send_as(user, "what is this", VISION, images=[image], needs=needs)
    assert complete(str(first.messages[0].id)) == "done"
    stored = ChatMessage.objects(id=first.user_message.id).first()
    assert stored.images == [image]
    sent = provider.stats()["last_requests"][-1]["messages"]
    assert sent[-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": image}},
    ]
    # Counted by the tile rule: 640x480 (never scaled up) is 2 x 1 tiles: 85 + 2 x 170.
    assert first.messages[0].promptEstimate == (12 + 3) // 4 + 425 + 4 + 2

    later = send_as(user, "and now?", VISION, FREE, session_id=first.session.sessionId)
    for msg in later.messages:
        assert complete(str(msg.id)) == "done"
    by_model = {r["model"]: r["messages"] for r in provider.stats()["last_requests"][-2:]}
    assert by_model[VISION][0]["content"][1]["image_url"]["url"] == image
    assert by_model[FREE][0] == {"role": "user", "content": "what is this"}  # text only


def test_a_model_without_images_is_refused_naming_images(provider, member, send_as):
    with pytest.raises(UnsupportedParameter) as err:
        send_as(member(), "x", FREE, images=[data_url(4, 4)], needs=Needs(image_param="images"))
    assert err.value.details["field"] == "images" and ChatMessage.objects.count() == 0
