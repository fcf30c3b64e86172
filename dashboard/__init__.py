"""refport: referrer portfolio review dashboard."""

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
# arrays of every journey build. A fixed threshold of 128 KiB (mallopt(3), read when a process starts:
# this reaches the server `refport run` starts) returns them: with three sessions at 10 million
# referrals the server's peak went from 1.50-1.53 GB to 1.38 GB, its resident memory after warm-up
# from 1.0 GB to 0.89 GB.
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
