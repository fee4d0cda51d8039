"""Graph -> Graph optimization passes and the pass manager.

Importing this package registers every pass (one module each) with ``manager.PASSES``.
"""

from cnncc.passes import (  # noqa: F401  (each module registers its pass)
    backend_layout,
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
