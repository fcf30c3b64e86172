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
