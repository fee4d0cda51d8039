"""EfficientNet-B0, as torchvision defines it: MBConv blocks with SiLU and squeeze-excitation,
3x3 and 5x5 depthwise convolutions."""

from __future__ import annotations

from cnncc.modern.net import RESIDUAL_SCALE, Net

# expansion, kernel, first stride, output channels, blocks
B0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
             (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def efficientnet_b0(net: Net, x: str) -> str:
    x = net.conv_act(x, 32, 3, 2, act="silu")
    for expand, k, s, cout, n in B0_STAGES:
        for i in range(n):
            stride = s if i == 0 else 1
            cin = net.channels(x)
            wide = cin * expand
            y = net.conv_act(x, wide, 1, act="silu") if expand != 1 else x
            y = net.conv_act(y, wide, k, stride, groups=wide, act="silu")
            y = net.squeeze_excite(y, max(1, cin // 4), "silu", "sigmoid")
            residual = stride == 1 and cin == cout
            y = net.conv(y, cout, 1, scale=RESIDUAL_SCALE if residual else 1.0)
            x = net.add(x, y) if residual else y
    x = net.conv_act(x, 1280, 1, act="silu")
    return net.linear(net.flatten(net.global_pool(x)), 1000)
