"""Arrays kept as NumPy files in a folder beside the facts, written whole or not at all.

attribution keeps the journeys of the window everyone opens first here (see attribution._store_folder):
building them reads millions of touchpoints, about a second at 10 million referrals, and a new process
or a forgotten cache then reads them back memory-mapped in milliseconds.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np


def load(folder: Path, names: set[str]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` kept in ``folder`` (memory-mapped, read-only), or None when it holds
    other ones or none. A folder that cannot be read is removed, so that it is written again."""
    if not folder.is_dir():
        return None
    try:
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in names}
    except (OSError, ValueError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return arrays


def save(folder: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Keep ``arrays`` in ``folder``, replacing the folder's older versions (same name up to the last
    '-'). Written in a private folder renamed into place: a reader, in this process or another, sees
    every array or the folder missing, never part of it; if another writer got there first its
    folder is kept. False when the folder could not be written (read-only cache, disk full): the
    caller goes on with its arrays in memory."""
    partial = folder.with_name(f".{folder.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        partial.mkdir(parents=True)
        for name, values in arrays.items():
            np.save(partial / f"{name}.npy", values, allow_pickle=False)
        stem = folder.name.rsplit("-", 1)[0]
        for older in folder.parent.glob(f"{stem}-*"):
            if older != folder:
                shutil.rmtree(older, ignore_errors=True)
        os.rename(partial, folder)
    except OSError:
        return folder.is_dir()
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return True
