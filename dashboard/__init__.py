"""refport: referrer portfolio review dashboard."""

import ctypes
import os

__version__ = "0.1.0"

# NumPy asks Linux for 2 MB pages for every array of 4 MB or more (numpy.org, "madvise hugepage on
# Linux"); it reads this switch when it is first imported, and refport imports it after this line.
# Attribution at 10 million referrals makes hundreds of short-lived arrays of tens of MB, and the kernel
# zeroes each one's huge pages as they are first touched: on the 2-core benchmark machine the
# Attribution page's first render took 4.1 s with them and 2.8 s without. Set the variable yourself to
# choose otherwise; a server started by `refport run` inherits it.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

# glibc keeps freed memory for reuse, and by default raises its threshold for giving large blocks straight
# back to the system as the process frees them (up to 32 MB), so the server held on to the 10-50 MB
# arrays of every journey build. A fixed threshold of 128 KiB (mallopt(3)) returns them: with three
# sessions at 10 million referrals the server's peak went from 1.50-1.53 GB to 1.38 GB, its resident
# memory after warm-up from 1.0 GB to 0.89 GB. The cost is time: fresh pages for every large array (the
# Attribution page's first render at size L 1.28 -> 1.41-1.46 s). The variable reaches the processes
# refport starts (the server of `refport run`); glibc reads it only when a process starts, so this one
# (the benchmark, the command line, tests) sets the same threshold itself, and measures what the
# server does. A threshold set by hand in the environment is left as it is.
_M_MMAP_THRESHOLD = -3  # malloc.h


def _return_large_blocks(threshold: int = 131072) -> None:
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(threshold)
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, threshold)
    except (OSError, AttributeError):  # not glibc (macOS): its allocator as it is
        pass


_return_large_blocks()
