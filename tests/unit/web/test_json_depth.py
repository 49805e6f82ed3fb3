"""`web.validation.loads`: JSON nested up to the limit is read, deeper is refused (what the
routes answer for it: tests/service/web/test_bad_json.py)."""

from __future__ import annotations

import pytest

from web.validation import MAX_JSON_DEPTH, loads


def test_nesting_up_to_the_limit_is_accepted():
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(ok) is not None
    with pytest.raises(Exception, match="nested too deeply"):
        loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(Exception, match="nested too deeply"):
        loads('{"a":' * 40 + "1" + "}" * 40)
