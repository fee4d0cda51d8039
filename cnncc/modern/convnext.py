"""ConvNeXt-Tiny in NCHW: 7x7 depthwise convolutions, LayerNorm over channels written out as
ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div (ConvNeXt's channels_first LayerNorm), the MLP as
1x1 convolutions with GELU spelled with Erf, and a per-channel layer scale."""

from __future__ import annotations

import numpy as np

from cnncc.modern.net import Net

DIMS = (96, 192, 384, 768)
DEPTHS = (3, 3, 9, 3)
LAYER_SCALE = 0.3  # times U(0.5, 1.5) per channel; training starts it at 1e-6, which would hide the blocks


def convnext_tiny(net: Net, x: str) -> str:
    x = net.channel_layer_norm(net.conv(x, DIMS[0], 4, 4, pad=0, norm=False))
    for stage, (dim, depth) in enumerate(zip(DIMS, DEPTHS)):
        if stage > 0:
            x = net.conv(net.channel_layer_norm(x), dim, 2, 2, pad=0, norm=False)
        for _ in range(depth):
            y = net.conv(x, dim, 7, groups=dim, norm=False)
            y = net.channel_layer_norm(y)
            y = net.gelu(net.conv(y, 4 * dim, 1, norm=False))
            y = net.conv(y, dim, 1, norm=False)
            scale = net.rng.uniform(0.5, 1.5, (dim, 1, 1)).astype(np.float32) * LAYER_SCALE
            x = net.add(x, net.mul(y, net.const(scale, "layer_scale")))
    x = net.channel_layer_norm(net.global_pool(x))
    return net.linear(net.flatten(x), 1000)
