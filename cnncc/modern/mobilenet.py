"""MobileNetV2 and MobileNetV3-Large/-Small, as torchvision defines them (width 1.0, 1000 classes)."""

from __future__ import annotations

from cnncc.modern.net import RESIDUAL_SCALE, Net, make_divisible

# MobileNetV2 stages: expansion t, output channels c, blocks n, first stride s
V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

# MobileNetV3 blocks: kernel, expanded channels, output channels, squeeze-excitation, activation, stride
V3_LARGE = (
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1), (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1), (5, 960, 160, True, "hardswish", 1),
)
V3_SMALL = (
    (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hardswish", 2), (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
    (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1), (5, 288, 96, True, "hardswish", 2),
    (5, 576, 96, True, "hardswish", 1), (5, 576, 96, True, "hardswish", 1),
)


def mobilenet_v2(net: Net, x: str) -> str:
    x = net.conv_act(x, 32, 3, 2, act="relu6")
    for t, c, n, s in V2_STAGES:
        for i in range(n):
            stride = s if i == 0 else 1
            cin = net.channels(x)
            y = net.conv_act(x, cin * t, 1, act="relu6") if t != 1 else x
            y = net.conv_act(y, cin * t, 3, stride, groups=cin * t, act="relu6")
            residual = stride == 1 and cin == c
            y = net.conv(y, c, 1, scale=RESIDUAL_SCALE if residual else 1.0)
            x = net.add(x, y) if residual else y
    x = net.conv_act(x, 1280, 1, act="relu6")
    return net.linear(net.flatten(net.global_pool(x)), 1000)


def _v3(net: Net, x: str, blocks, last_conv: int, last_linear: int) -> str:
    x = net.conv_act(x, 16, 3, 2, act="hardswish")
    for k, expanded, cout, se, act, stride in blocks:
        cin = net.channels(x)
        y = net.conv_act(x, expanded, 1, act=act) if expanded != cin else x
        y = net.conv_act(y, expanded, k, stride, groups=expanded, act=act)
        if se:
            y = net.squeeze_excite(y, make_divisible(expanded // 4, 8), "relu", "hardsigmoid")
        residual = stride == 1 and cin == cout
        y = net.conv(y, cout, 1, scale=RESIDUAL_SCALE if residual else 1.0)
        x = net.add(x, y) if residual else y
    x = net.conv_act(x, last_conv, 1, act="hardswish")
    x = net.flatten(net.global_pool(x))
    x = net.hardswish(net.linear(x, last_linear))
    return net.linear(x, 1000)


def mobilenet_v3_large(net: Net, x: str) -> str:
    return _v3(net, x, V3_LARGE, 960, 1280)


def mobilenet_v3_small(net: Net, x: str) -> str:
    return _v3(net, x, V3_SMALL, 576, 1024)
