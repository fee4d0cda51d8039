"""The C API of an exported model under AddressSanitizer (issue 16, items 5 and 6): every
function of model.h with every misuse returns its documented error code and message, and
concurrent runs on one model object equal serial ones (tests/backends/llvm/c/api_misuse.c)."""

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from artifact_helpers import export_tiny

HERE = Path(__file__).resolve().parent
CC = os.environ.get("CC", "cc")


def asan_usable(tmp_path: Path) -> str | None:
    """Why AddressSanitizer cannot be used here, or None."""
    if shutil.which(CC) is None:
        return f"no C compiler ({CC})"
    src = tmp_path / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    built = subprocess.run([CC, "-fsanitize=address", str(src), "-o", str(tmp_path / "probe")], capture_output=True)
    if built.returncode != 0:
        return f"{CC} cannot build with -fsanitize=address: {built.stderr.decode()[-200:]}"
    if subprocess.run([str(tmp_path / "probe")], capture_output=True).returncode != 0:
        return "the ASan runtime does not start here"
    return None


def test_every_misuse_under_address_sanitizer(tmp_path):
    reason = asan_usable(tmp_path)
    if reason:
        pytest.skip(reason)
    art = tmp_path / "art"
    export_tiny(art)
    binary = tmp_path / "api_misuse"
    subprocess.run([CC, "-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1", "-Wall", "-Werror", "-pthread",
                    str(HERE / "c" / "api_misuse.c"), "-I", str(art), "-L", str(art), "-lmodel",
                    f"-Wl,-rpath,{art}", "-o", str(binary)], check=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    # libgomp, loaded by libmodel.so, may come before the ASan runtime in the link order
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=1:abort_on_error=0"
    res = subprocess.run([str(binary), str(art), str(scratch)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and "0 failures" in res.stdout, res.stdout + res.stderr
    assert "AddressSanitizer" not in res.stderr, res.stderr


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("ndim", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


def test_run_tensors_with_null_arrays_from_python(tmp_path):
    """The probe's segfault (NULL inputs or outputs array), without a C compiler."""
    export_tiny(tmp_path / "art")
    lib = ctypes.CDLL(str(tmp_path / "art" / "libmodel.so"))
    lib.cnncc_model_create.restype = ctypes.c_void_p
    lib.cnncc_last_error.restype = ctypes.c_char_p
    lib.cnncc_model_run_tensors.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                            ctypes.c_int]
    lib.cnncc_model_destroy.argtypes = [ctypes.c_void_p]
    m = lib.cnncc_model_create(None)
    assert m
    x, y = np.zeros((1, 3, 8, 8), np.float32), np.zeros((1, 4), np.float32)
    ins = (Tensor * 1)(Tensor(x.ctypes.data, 1, 4, (ctypes.c_int64 * 4)(1, 3, 8, 8)))
    outs = (Tensor * 1)(Tensor(y.ctypes.data, 1, 2, (ctypes.c_int64 * 2)(1, 4)))
    assert lib.cnncc_model_run_tensors(m, None, 1, outs, 1) == 1
    assert b"inputs is NULL" in lib.cnncc_last_error()
    assert lib.cnncc_model_run_tensors(m, ins, 1, None, 1) == 1
    assert b"outputs is NULL" in lib.cnncc_last_error()
    assert lib.cnncc_model_run_tensors(None, ins, 1, outs, 1) == 1
    assert lib.cnncc_model_run_tensors(m, ins, 1, outs, 1) == 0
    lib.cnncc_model_destroy(m)
