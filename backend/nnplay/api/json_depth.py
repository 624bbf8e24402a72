"""How deeply a JSON text nests, measured before anything parses or copies it.

Parsers, `copy.deepcopy` and recursive merges recurse once per level; a small body
of 900 nested lists reaches Python's recursion limit. Request bodies nesting deeper
than `MAX_JSON_DEPTH` are refused with 422 instead.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 32  # a spec nests about 5 levels; presets with overrides a few more

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # brackets inside strings do not nest
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


def nesting_depth(text: bytes) -> int:
    """The deepest level of objects and lists in `text` (a JSON document)."""
    if text.count(b"[") + text.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: skip the scan
    brackets = _STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if byte in _OPEN else -1 for byte in brackets), default=0)


def depth_error(limit: int = MAX_JSON_DEPTH) -> str:
    """The sentence a client gets for a body that nests too deeply."""
    return (f"request body nests too deeply: at most {limit} levels of objects and "
            "lists (e.g. in 'overrides')")
