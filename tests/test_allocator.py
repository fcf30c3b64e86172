"""refport's processes give large freed blocks straight back to the system (dashboard/__init__.py): the
server `refport run` starts through the environment, and the process that imports refport (the
benchmark, the command line) through mallopt, so that the benchmark measures what the server does."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt and mallinfo2 are glibc's")

# After a freed 8 MB block glibc's own threshold is 8 MB, so a 1 MB block comes from the heap; with
# refport's fixed threshold of 128 KiB it is a block of its own, mapped from the system (hblks + 1).
PROBE = textwrap.dedent("""
    import ctypes, os
    {setup}
    libc = ctypes.CDLL("libc.so.6")
    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost")]
    libc.mallinfo2.restype = Info
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(8 << 20))
    before = libc.mallinfo2().hblks
    block = libc.malloc(1 << 20)
    print(libc.mallinfo2().hblks - before, os.environ.get("MALLOC_MMAP_THRESHOLD_"))
""")


def _probe(setup: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], env={**clean, **env},
                          capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_glibc_alone_keeps_a_freed_block_for_reuse():
    assert _probe("") == ["0", "None"]


def test_importing_refport_returns_large_blocks_in_this_process_and_its_children():
    assert _probe("import dashboard") == ["1", "131072"]


def test_a_threshold_set_by_hand_is_left_as_it_is():
    assert _probe("import dashboard", MALLOC_MMAP_THRESHOLD_="33554432") == ["0", "33554432"]
