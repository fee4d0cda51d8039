"""Peak resident memory of one phase of this process (Linux: reset VmHWM, read it back)."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _read_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset the peak-RSS counter; False where the kernel does not let us (then peaks add up)."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float | None:
    kib = _read_kib("VmHWM")
    return None if kib is None else kib / 1024
