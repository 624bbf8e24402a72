"""How a training process's C allocator keeps freed memory (glibc's malloc settings).

glibc serves large blocks (over a threshold that starts at 128 KiB and moves) with
fresh `mmap`s and gives freed heap tops back to the system, so a loop that allocates
and frees the same multi-megabyte tensors many times a second (a cohort's stacked
probes, a 100-member step) takes page faults on every pass: measured on 2 cores,
fifty members' stacked snapshots took 14 ms with the defaults and 7.3 ms with the
blocks kept. Fixed thresholds keep blocks up to `MMAP_THRESHOLD` on the heap and up
to `TRIM_THRESHOLD` of free heap per arena, a bounded amount of extra resident memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger("nnplay.train")

MMAP_THRESHOLD = 32 << 20  # bytes: smaller blocks come from the heap, reused when freed
TRIM_THRESHOLD = 128 << 20  # bytes of free heap top an arena keeps instead of returning
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Set the thresholds in this process (Linux with glibc); False where there is no mallopt."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to tune
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    if not ok:
        log.debug("mallopt refused the allocator thresholds; keeping the defaults")
    return ok


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]
