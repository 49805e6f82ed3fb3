"""Ending the answers a stopping worker still runs when its drain window is over.

First each run is told to stop (the flag a lost lease raises): it publishes nothing more, closes
its provider stream at the next delta and returns without touching the message. Then each
message is ended exactly as the reaper ends an answer whose worker died
(`ending.interrupt`): `interrupted`, the text streamed so far kept, nothing charged, the
hold released and an `error` frame (STREAM_INTERRUPTED) whose `seq` is the last chunk sent —
which is why the runs stop first. Ending is the same conditional update any runner uses, so an
answer that finished in the meantime is left alone.
"""

from __future__ import annotations

import time

from common.conversations.models import ChatMessage
from common.engine import completion, ending

STOP_WAIT_SECONDS = 5.0  # a run blocked on a silent provider is ended anyway after this


def interrupt_running() -> int:
    """Stop and end every answer this process is running; returns how many this call ended."""
    runs = dict(completion.running)
    for run in runs.values():
        run.lost.set()
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while any(mid in completion.running for mid in runs) and time.monotonic() < deadline:
        time.sleep(0.05)
    ended = 0
    for message_id, run in runs.items():
        msg = ChatMessage.objects(id=message_id).first()
        if msg is None or msg.status != "streaming" or msg.claimToken != run.token:
            continue  # it ended on its own, or another runner owns it
        if ending.interrupt(msg) is not None:
            ended += 1
    return ended
