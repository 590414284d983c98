"""Give large buffers back to the system as soon as they are freed.

glibc serves an allocation from its heap once its dynamic mmap threshold has grown past
that size (it grows up to 32 MB after the first large free), and each thread keeps its own
heap: the 16 MB blocks Pillow decodes a large photograph into then stay with the thread
that last used them, so a worker's resident memory became the sum of every thread's
largest image rather than one image. A fixed threshold (which also stops the dynamic
growth) makes every allocation of 4 MB or more its own mapping, returned when freed.
Together with onnxruntime sessions without a memory arena (models/runtime.py) and one
large image at a time per process (api/imaging.py), this bounds a worker's memory
(tests/api/test_memory.py measures it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 4 * 2**20


def return_large_buffers() -> bool:
    """Set glibc's mmap threshold for this process; False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.warning("mallopt is unavailable: freed image buffers may stay with their thread")
        return False
    return True
