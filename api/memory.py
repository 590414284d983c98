"""Give large buffers back to the system as soon as they are freed.

glibc serves an allocation from its heap once its dynamic mmap threshold has grown past
that size (it grows up to 32 MB after the first large free), and each thread keeps its own
heap: the 16 MB blocks Pillow decodes a large photograph into then stay with the thread
that last used them, so a worker's resident memory became the sum of every thread's
largest image rather than one image. A fixed threshold (which also stops the dynamic
growth) makes every allocation of 4 MB or more its own mapping, returned when freed.
Smaller blocks freed by one thread's request stayed in that thread's arena too: with four
40-megapixel requests at once a worker's peak rose 452-515 MiB over its baseline from run
to run; with at most ARENA_MAX arenas per process 446-451 MiB (one request: 391 either
way), at the same requests/s (tests/api/test_memory.py, benchmarks/framework_client.py).
Together with onnxruntime sessions without a memory arena (models/runtime.py) and one
large image at a time per process (api/imaging.py), this bounds a worker's memory
(tests/api/test_memory.py measures it).

Smaller blocks still come from the heap, and opening a model leaves many freed there:
onnxruntime builds the float32 FaceNet's optimised graph through copies of its 87 MB of
weights, and glibc keeps the freed pages. `trim_heap` hands them back (malloc_trim):
measured on a worker's FaceNet session, 230 MiB resident after opening, 99 MiB after the
trim, with the same speed. Requests leave their freed working sets there too, so each
worker also trims every HEAP_TRIM_SECONDS (api/services.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 4 * 2**20
ARENA_MAX = 2


@cache
def _c_library() -> ctypes.CDLL | None:
    """The C library, looked up once (find_library runs ldconfig in a subprocess)."""
    library = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(library) if library else None
    except OSError:
        return None


def _glibc_function(name: str) -> Any:
    """`name` from the C library, or None where it is not glibc (musl has neither)."""
    return getattr(_c_library(), name, None)


def return_large_buffers() -> bool:
    """Set glibc's mmap threshold and arena count for this process; False where libc is
    not glibc."""
    mallopt = _glibc_function("mallopt")
    if mallopt is not None:
        mallopt(M_ARENA_MAX, ARENA_MAX)
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.warning("mallopt is unavailable: freed image buffers may stay with their thread")
        return False
    return True


def trim_heap() -> bool:
    """Give the heap's free pages back to the system, after work that freed much (models
    opened, a training job); False where libc is not glibc."""
    malloc_trim = _glibc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
