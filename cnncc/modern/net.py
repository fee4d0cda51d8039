"""Writing an ONNX graph layer by layer, the way PyTorch's exporter spells each layer, with
seeded random weights that keep activations O(1) through any depth.

Every node is also evaluated in NumPy as it is written (``eager.py``), on a seeded
standard-normal calibration batch (the graph itself has batch 1), and each layer's weights are fitted to what reaches it:

- a conv that a trained network follows with batch normalization (``norm=True``) is written as
  one Conv with its BN folded in, as an inference export with constant folding writes it, and
  that BN uses the statistics of the calibration batch: every output channel gets mean beta and
  standard deviation gamma, with gamma in [0.5, 1.5] x ``scale`` and small betas;
- any other conv or Gemm (squeeze-excitation convs, ConvNeXt's, heads, classifiers) has
  fan-in-scaled weights rescaled as a whole so its output's standard deviation is ``scale``.

Without that, activations with a nonzero mean (SiLU, HardSwish, squeeze-excitation gates) make
fixed He-style gains drift by a few percent per layer, which compounds to 1e3 over
EfficientNet's depth. ``scale`` < 1 on the conv that ends a residual branch keeps sums of
branches from growing along a stage.
"""

from __future__ import annotations

import math

import numpy as np

from cnncc.modern import eager

OPSET = 17
RESIDUAL_SCALE = 0.5  # the conv that ends a residual branch


class Net:
    """Nodes, initializers and the calibration value of every tensor written so far."""

    def __init__(self, name: str, seed: int = 0, calibration_batch: int = 4) -> None:
        self.name = name
        self.calibration_batch = calibration_batch
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self.values: dict[str, np.ndarray] = {}
        self._taken: set[str] = set()

    def channels(self, x: str) -> int:
        return int(self.values[x].shape[1])

    # -- plumbing ------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self._taken:
            k += 1
            name = f"{base}.{k}"
        self._taken.add(name)
        return name

    def const(self, array, base: str = "const") -> str:
        from onnx import numpy_helper

        name = self.fresh(base)
        array = np.asarray(array)
        self.initializers.append(numpy_helper.from_array(array, name))
        self.values[name] = array
        return name

    def ints(self, values, base: str = "shape") -> str:
        return self.const(np.asarray(values, np.int64), base)

    def scalar(self, value: float) -> str:
        return self.const(np.asarray(value, np.float32), "scalar")

    def op(self, op_type: str, inputs, outputs: int = 1, **attrs):
        """One node, evaluated on the calibration values; returns its output name (or names,
        for ``outputs`` > 1)."""
        from onnx import helper

        node_name = self.fresh(f"/{op_type}")
        outs = [self.fresh(f"{node_name[1:]}_output_{i}") for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        results = eager.evaluate(op_type, [self.values.get(i) for i in inputs], attrs)
        self.values.update(zip(outs, results))
        return outs[0] if outputs == 1 else outs

    def input(self, name: str, shape) -> str:
        from onnx import TensorProto, helper

        self._taken.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        batch = (self.calibration_batch, *shape[1:])
        self.values[name] = self.rng.standard_normal(batch).astype(np.float32)
        return name

    def output(self, value: str, name: str) -> None:
        from onnx import TensorProto, helper

        self._taken.add(name)
        for node in self.nodes:  # rename the value where it is made and read
            for i, v in enumerate(node.output):
                if v == value:
                    node.output[i] = name
            for i, v in enumerate(node.input):
                if v == value:
                    node.input[i] = name
        self.values[name] = self.values[value]
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))

    def model(self):
        """The ModelProto, its output shapes inferred, checked by onnx."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cnncc.modern")
        model.ir_version = 8
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        del model.graph.value_info[:]
        onnx.checker.check_model(model, full_check=True)
        return model

    # -- weights ---------------------------------------------------------------------------
    def _random(self, shape, fan_in: int) -> np.ndarray:
        bound = math.sqrt(3.0 / fan_in)
        return self.rng.uniform(-bound, bound, shape).astype(np.float32)

    def _fit(self, y: np.ndarray, w: np.ndarray, norm: bool, scale: float, out_axis: int):
        """Weights and bias that turn ``y`` (the layer's output with weights ``w``, no bias)
        into the statistics described in the module docstring."""
        c = y.shape[1]
        axes = tuple(i for i in range(y.ndim) if i != 1)
        if norm and int(np.prod([y.shape[i] for i in axes])) > 1:
            mean, std = y.mean(axis=axes), y.std(axis=axes)
            std = np.maximum(std, 0.25 * max(float(std.mean()), 1e-12))  # no channel amplified far beyond the rest
            gamma = self.rng.uniform(0.5, 1.5, c).astype(np.float32) * scale
            beta = self.rng.uniform(-0.2, 0.2, c).astype(np.float32) * scale
            k = gamma / std
            return w * k.reshape([-1 if i == out_axis else 1 for i in range(w.ndim)]), (beta - mean * k).astype(np.float32)
        k = scale / max(float(y.std()), 1e-12)
        return w * np.float32(k), self.rng.uniform(-0.1, 0.1, c).astype(np.float32) * scale

    # -- layers ----------------------------------------------------------------------------
    def conv(self, x: str, cout: int, k: int = 1, stride: int = 1, groups: int = 1, norm: bool = True,
             scale: float = 1.0, bias: bool = True, pad: int | None = None) -> str:
        cin = self.channels(x)
        pad = k // 2 if pad is None else pad
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups, dilations=[1, 1])
        w = self._random((cout, cin // groups, k, k), cin // groups * k * k)
        w, b = self._fit(eager.conv(self.values[x], w, **attrs), w, norm, scale, out_axis=0)
        inputs = [x, self.const(w, "conv.weight")] + ([self.const(b, "conv.bias")] if bias else [])
        return self.op("Conv", inputs, **attrs)

    def conv_transpose(self, x: str, cout: int, k: int, stride: int) -> str:
        """ConvTranspose with kernel == stride (UNet's 2x2/2), weights (C_in, C_out, k, k)."""
        cin = self.channels(x)
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride])
        w = self._random((cin, cout, k, k), cin)
        w, b = self._fit(eager.conv_transpose(self.values[x], w, **attrs), w, False, 1.0, out_axis=1)
        return self.op("ConvTranspose", [x, self.const(w, "convtranspose.weight"), self.const(b, "convtranspose.bias")], **attrs)

    def linear(self, x: str, cout: int) -> str:
        """nn.Linear on a (1, C) value: Gemm with transB, as torch exports it."""
        cin = self.channels(x)
        w = self._random((cout, cin), cin)
        w, b = self._fit(self.values[x] @ w.T, w, False, 1.0, out_axis=0)
        return self.op("Gemm", [x, self.const(w, "fc.weight"), self.const(b, "fc.bias")], alpha=1.0, beta=1.0, transB=1)

    def flatten(self, x: str) -> str:
        return self.op("Flatten", [x], axis=1)

    def global_pool(self, x: str) -> str:
        return self.op("GlobalAveragePool", [x])

    def max_pool(self, x: str, k: int, stride: int, pad: int) -> str:
        return self.op("MaxPool", [x], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def mul(self, a: str, b: str) -> str:
        return self.op("Mul", [a, b])

    def concat(self, values, axis: int = 1) -> str:
        return self.op("Concat", list(values), axis=axis)

    def split(self, x: str, sizes, axis: int = 1) -> list[str]:
        return self.op("Split", [x, self.ints(sizes, "split")], outputs=len(sizes), axis=axis)

    # -- activations, as torch.onnx exports them at opset 17 ----------------------------------
    def act(self, x: str, kind: str) -> str:
        return {"relu": self.relu, "relu6": self.relu6, "hardswish": self.hardswish, "silu": self.silu,
                "sigmoid": self.sigmoid, "hardsigmoid": self.hardsigmoid, "gelu": self.gelu,
                "none": lambda v: v}[kind](x)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def relu6(self, x: str) -> str:
        return self.op("Clip", [x, self.scalar(0.0), self.scalar(6.0)])

    def hardswish(self, x: str) -> str:
        return self.op("HardSwish", [x])

    def hardsigmoid(self, x: str) -> str:
        """nn.Hardsigmoid: HardSigmoid with alpha 1/6 (ONNX's default is 0.2)."""
        return self.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)

    def sigmoid(self, x: str) -> str:
        return self.op("Sigmoid", [x])

    def silu(self, x: str) -> str:
        return self.mul(x, self.sigmoid(x))

    def gelu(self, x: str) -> str:
        """0.5 * x * (1 + erf(x / sqrt 2)), node for node as torch exports nn.GELU before opset 20."""
        e = self.op("Erf", [self.op("Div", [x, self.scalar(math.sqrt(2.0))])])
        return self.op("Mul", [self.mul(x, self.add(e, self.scalar(1.0))), self.scalar(0.5)])

    # -- blocks shared by several families -----------------------------------------------------
    def conv_act(self, x: str, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: str = "relu") -> str:
        """Conv + BN (folded) + activation."""
        return self.act(self.conv(x, cout, k, stride, groups), act)

    def squeeze_excite(self, x: str, squeeze: int, act: str, gate: str) -> str:
        """GlobalAveragePool -> 1x1 conv -> act -> 1x1 conv -> gate -> Mul (no BN inside)."""
        s = self.global_pool(x)
        s = self.act(self.conv(s, squeeze, norm=False), act)
        s = self.act(self.conv(s, self.channels(x), norm=False, scale=2.0), gate)
        return self.mul(x, s)

    def channel_layer_norm(self, x: str, eps: float = 1e-6) -> str:
        """LayerNorm over the channels of an NCHW value, written out as ConvNeXt's channels_first
        LayerNorm exports it: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then scale and bias."""
        c = self.channels(x)
        u = self.op("ReduceMean", [x], axes=[1], keepdims=1)
        d = self.op("Sub", [x, u])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.scalar(2.0)])], axes=[1], keepdims=1)
        y = self.op("Div", [d, self.op("Sqrt", [self.add(var, self.scalar(eps))])])
        weight = self.const(self.rng.uniform(0.5, 1.5, (c, 1, 1)).astype(np.float32), "norm.weight")
        bias = self.const(self.rng.uniform(-0.1, 0.1, (c, 1, 1)).astype(np.float32), "norm.bias")
        return self.add(self.mul(y, weight), bias)


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: round to a multiple of ``divisor``, losing at most 10%."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
