"""What the llvm backend says about a node it has no kernel for: a user's UnsupportedOpError
naming the node and the op (a bug in a lowering is an InternalError: tests/test_internal_errors.py)."""

import pytest

from cnncc.backends import llvm
from cnncc.errors import UnsupportedOpError

from llvm_helpers import const, op_graph, rand


def test_4d_convolution_is_unsupported_naming_node_and_op():
    attrs = dict(kernel_shape=(1,) * 4, strides=(1,) * 4, pads=(0,) * 8, dilations=(1,) * 4)
    g, _ = op_graph("Conv", [rand(1, 2, 3, 3, 3, 3), const(rand(2, 2, 1, 1, 1, 1))], attrs)
    with pytest.raises(UnsupportedOpError, match=r"node 'conv0' \(Conv\): 4-D convolution .* not supported by the llvm backend"):
        llvm.build(g)
