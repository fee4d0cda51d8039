"""ResNet-18, as torchvision defines it: basic blocks of two 3x3 convolutions."""

from __future__ import annotations

from cnncc.modern.net import RESIDUAL_SCALE, Net


def resnet18(net: Net, x: str) -> str:
    x = net.conv_act(x, 64, 7, 2, act="relu")
    x = net.max_pool(x, 3, 2, 1)
    for stage, width in enumerate((64, 128, 256, 512)):
        for i in range(2):
            stride = 2 if stage > 0 and i == 0 else 1
            y = net.conv_act(x, width, 3, stride, act="relu")
            y = net.conv(y, width, 3, scale=RESIDUAL_SCALE)
            shortcut = net.conv(x, width, 1, stride) if stride != 1 or net.channels(x) != width else x
            x = net.relu(net.add(shortcut, y))
    return net.linear(net.flatten(net.global_pool(x)), 1000)
