"""RegNetY-400MF, as torchvision defines it: bottleneck blocks with grouped 3x3 convolutions
(group width 8) and squeeze-excitation."""

from __future__ import annotations

from cnncc.modern.net import RESIDUAL_SCALE, Net

WIDTHS = (48, 104, 208, 440)
DEPTHS = (1, 3, 6, 6)
GROUP_WIDTH = 8
SE_RATIO = 0.25


def regnet_y_400mf(net: Net, x: str) -> str:
    x = net.conv_act(x, 32, 3, 2, act="relu")
    for width, depth in zip(WIDTHS, DEPTHS):
        for i in range(depth):
            stride = 2 if i == 0 else 1
            cin = net.channels(x)
            y = net.conv_act(x, width, 1, act="relu")
            y = net.conv_act(y, width, 3, stride, groups=width // GROUP_WIDTH, act="relu")
            y = net.squeeze_excite(y, int(round(SE_RATIO * cin)), "relu", "sigmoid")
            y = net.conv(y, width, 1, scale=RESIDUAL_SCALE)
            shortcut = net.conv(x, width, 1, stride) if cin != width or stride != 1 else x
            x = net.relu(net.add(shortcut, y))
    return net.linear(net.flatten(net.global_pool(x)), 1000)
