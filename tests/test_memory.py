"""Memory freed by a training goes back to the operating system."""

import subprocess
import sys
import textwrap

import pytest

# Allocates about 200 MB in small blocks, keeps every tenth (so the freed
# pages lie between live ones, where free() alone never returns them), and
# prints resident memory after the free and after release_freed_memory().
PROBE = textwrap.dedent(
    """
    import os
    from app.memory import release_freed_memory

    def rss_mb():
        pages = int(open("/proc/self/statm").read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    blocks = [bytearray(2000) for _ in range(100_000)]
    kept = blocks[::10]
    del blocks
    freed = rss_mb()
    release_freed_memory()
    print(freed, rss_mb(), len(kept))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_heap_pages_are_returned() -> None:
    out = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    after_free, after_release, _ = (float(value) for value in out.split())
    # 180 MB of the 200 MB were freed; most of it must leave the process.
    assert after_free - after_release > 100
