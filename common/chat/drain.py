"""Ending the answers a stopping worker still runs when its drain window is over.

Each is ended exactly as the reaper ends an answer whose worker died (`completion.interrupt`):
`interrupted`, the text streamed so far kept, nothing charged, the hold released and an `error`
frame (STREAM_INTERRUPTED) published. The task itself stops at its next delta: its publish is
refused once the stream has a final frame. Ending is the same conditional update any runner
uses, so a run that finished in the meantime is left alone.
"""

from __future__ import annotations

from common.chat import completion
from common.chat.models import ChatMessage


def interrupt_running() -> int:
    """End every answer this process is running; returns how many this call ended."""
    ended = 0
    for message_id, token in list(completion.running.items()):
        msg = ChatMessage.objects(id=message_id).first()
        if msg is None or msg.status != "streaming" or msg.claimToken != token:
            continue  # it ended on its own, or another runner owns it
        if completion.interrupt(msg) is not None:
            ended += 1
    return ended
