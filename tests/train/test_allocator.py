"""The allocator settings a training process takes: freed blocks stay for reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nnplay.train.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_stacked_snapshots_reuse_freed_blocks_instead_of_faulting_in_fresh_pages() -> None:
    """Fifty members' stacked snapshots, pass after pass (each pass's snapshots kept
    until the next, as a worker's queue keeps them): with glibc's defaults every pass
    faults in hundreds of fresh pages; with the thresholds set, few."""
    script = (
        "import resource, sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from nnplay.train.allocator import keep_freed_memory\n"
        "if sys.argv[1] == 'kept':\n"
        "    assert keep_freed_memory()\n"
        "from nnplay.presets import get_preset\n"
        "from nnplay.train.cohort import Cohort\n"
        "from nnplay.train.cohort_probes import stacked_snapshots\n"
        "specs = [get_preset('spiral').build({'seed': s}) for s in range(50)]\n"
        "cohort = Cohort(specs[0])\n"
        "cohort.add_many([(i, spec, None) for i, spec in enumerate(specs)])\n"
        "ids = list(range(50))\n"
        "looks = [cohort.look_of(i) for i in ids]\n"
        "for _ in range(5):\n"
        "    snaps = stacked_snapshots(cohort, ids, [0] * 50, looks)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20):\n"
        "    snaps = stacked_snapshots(cohort, ids, [0] * 50, looks)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)\n")

    def faults(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True,
                             text=True, check=True, timeout=120)
        return float(out.stdout.split()[-1])

    default, kept = faults("default"), faults("kept")
    # Measured: ~850 faults a pass with the defaults, ~70 kept.
    assert kept * 4 < default, (default, kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_setting_it_takes_on_linux_and_again_when_a_second_app_is_made() -> None:
    """glibc accepts both thresholds, and again: create_app runs it once per app."""
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
