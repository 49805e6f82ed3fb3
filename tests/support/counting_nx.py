"""nx-27017 that counts the commands it is sent, by command and collection, on the server side.

`python -m tests.support.counting_nx <nx-27017's own arguments>` runs the ordinary server with
one addition: every OP_MSG it parses is counted under `<command> <collection>` (e.g.
`findAndModify users`), and the command `{"benchCounts": 1}` answers the counts so far
(`{"benchCounts": 1, "reset": true}` also starts them again from zero). Nothing else changes:
what the benchmark and the per-answer command-count tests read is what went over the wire,
without a proxy hop in the way of the timings. Sessions' `lsid`s and the driver's monitoring
(`hello`) are counted too, under their own names, so a reader can leave them out.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

from nx_27017 import server
from nx_27017.handler import NeoSQLiteHandler
from nx_27017.nx_27017 import main

COUNT_COMMAND = "benchCounts"
counts: collections.Counter[str] = collections.Counter()


def name_of(body: dict[str, Any]) -> str:
    """`<command> <collection>` for a command document (`<command>` alone if it names none)."""
    command = next(iter(body), "?")
    target = body.get(command)
    return f"{command} {target}" if isinstance(target, str) else command


_parse = server.OP_MSG.parse


class CountingOpMsg(server.OP_MSG):
    @staticmethod
    def parse(message_bytes: bytes) -> dict[str, Any]:
        msg = _parse(message_bytes)
        for kind, doc in msg["sections"]:
            if kind == "body" and isinstance(doc, dict) and COUNT_COMMAND not in doc:
                counts[name_of(doc)] += 1
        return msg


_handle_command = NeoSQLiteHandler.handle_command


def handle_command(self, msg: dict[str, Any]):
    body = next((d for k, d in msg["sections"] if k == "body"), None) or {}
    if COUNT_COMMAND in body:
        answer = {"ok": 1, "counts": dict(counts)}
        if body.get("reset"):
            counts.clear()
        return msg["request_id"], answer
    return _handle_command(self, msg)


def install() -> None:
    server.OP_MSG = CountingOpMsg
    NeoSQLiteHandler.handle_command = handle_command


if __name__ == "__main__":
    install()
    sys.argv[0] = "nx-27017"
    sys.exit(main())
