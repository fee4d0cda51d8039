"""The modern architecture suite: well-known CNNs written as ONNX graphs in code, node for node
as PyTorch exports them (opset 17), with seeded random weights scaled so activations stay O(1)
through the whole depth. Full-size: channel widths, strides and expansions are the published
ones, so MACs are realistic. ``cnncc zoo NAME`` writes one, ``cnncc bench --suite modern`` times them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnncc.modern.convnext import convnext_tiny
from cnncc.modern.efficientnet import efficientnet_b0
from cnncc.modern.mobilenet import mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small
from cnncc.modern.net import Net
from cnncc.modern.regnet import regnet_y_400mf
from cnncc.modern.resnet import resnet18
from cnncc.modern.unet import unet
from cnncc.modern.yolo import yolov8n


@dataclass(frozen=True)
class ModernModel:
    name: str
    body: Callable  # (net, input) or (net, input, size) -> output value
    exercises: str  # what it exercises, for `cnncc zoo` and the README
    size: int = 224  # square input side for `cnncc zoo` and `cnncc bench`
    test_size: int = 224  # a smaller side where the full one is slow to test
    input_name: str = "input"
    output_name: str = "output"
    takes_size: bool = False  # the body needs the input side (anchors)
    calibration_batch: int = 4  # seeded inputs the weights are fitted to (net.py); fewer where maps are large

    def build(self, seed: int = 0, size: int | None = None):
        """(ModelProto, {input: shape}) for an input of ``size`` x ``size`` (default: ``self.size``)."""
        side = size or self.size
        net = Net(self.name, seed, self.calibration_batch)
        x = net.input(self.input_name, (1, 3, side, side))
        y = self.body(net, x, side) if self.takes_size else self.body(net, x)
        net.output(y, self.output_name)
        return net.model(), {self.input_name: (1, 3, side, side)}


MODERN_MODELS = {m.name: m for m in (
    ModernModel("mobilenet_v2", mobilenet_v2, "inverted residuals, ReLU6 (Clip), 3x3 depthwise"),
    ModernModel("mobilenet_v3_large", mobilenet_v3_large, "HardSwish, squeeze-excitation with HardSigmoid, 5x5 depthwise"),
    ModernModel("mobilenet_v3_small", mobilenet_v3_small, "HardSwish, squeeze-excitation with HardSigmoid, 5x5 depthwise"),
    ModernModel("efficientnet_b0", efficientnet_b0, "SiLU (x*Sigmoid), squeeze-excitation, 5x5 depthwise"),
    ModernModel("regnet_y_400mf", regnet_y_400mf, "grouped 3x3 conv (group width 8), squeeze-excitation"),
    ModernModel("convnext_tiny", convnext_tiny, "7x7 depthwise, LayerNorm over channels (ReduceMean...Sqrt/Div), GELU as Erf"),
    ModernModel("resnet18", resnet18, "basic residual blocks, 7x7/2 stem, max pool"),
    ModernModel("yolov8n", yolov8n, "C2f (Split/Concat), SPPF, SiLU, nearest Resize + Concat, DFL head (Softmax, Transpose)",
                size=640, test_size=320, input_name="images", output_name="output0", takes_size=True),
    ModernModel("unet", unet, "ConvTranspose 2x2/2 upsampling, skip Concats, 64-1024 channels", size=256, test_size=256,
                calibration_batch=1),
)}
