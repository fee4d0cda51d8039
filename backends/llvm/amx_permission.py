"""The Linux permission request for the AMX tile state.

Linux hands the AMX tile data state (XFEATURE_XTILEDATA) to a process only when it asks:
``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``. Without it the first tile
instruction kills the process with SIGILL, so code that uses AMX must ask first (once per
process; the grant covers every thread). The exported library's runtime (c/runtime.c)
makes the same request at model create.
"""

from __future__ import annotations

import ctypes
import os
import sys

from cnncc.errors import BackendError

_SYS_ARCH_PRCTL = 158          # x86-64 Linux
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18

_granted = False


def request_amx() -> None:
    """Ask the kernel for the AMX tile state; a BackendError naming why when it refuses."""
    global _granted
    if _granted:
        return
    if not sys.platform.startswith("linux"):
        raise BackendError("llvm: AMX code needs Linux's permission request (arch_prctl), "
                           f"which {sys.platform} does not have")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) != 0:
        err = ctypes.get_errno()
        raise BackendError(f"llvm: the kernel refused this process the AMX tile state "
                           f"(arch_prctl ARCH_REQ_XCOMP_PERM: {os.strerror(err)}); "
                           f"compile with --precision fp32, or for a cpu without AMX")
    _granted = True
