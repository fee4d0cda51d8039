"""Graph -> Graph optimization passes and the pass manager.

Importing this package registers every generic pass (one module each) with
``manager.PASSES``. A backend's own passes live with the backend and register themselves when
it is imported (the llvm backend's backend-layout: backends/llvm/layout_pass.py); nothing
here imports a backend.
"""

from cnncc.passes import (  # noqa: F401  (each module registers its pass)
    canonicalize,
    cse,
    dce,
    eliminate_noops,
    fold_batch_norm,
    fold_constants,
    fold_dropout,
    fold_pad,
    fuse_conv,
    fuse_gemm,
    fuse_projection,
)
