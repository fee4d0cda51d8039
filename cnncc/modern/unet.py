"""A UNet segmenter (Ronneberger et al., as the common PyTorch implementations build it): four
max-pool downsamplings of double 3x3 conv-ReLU blocks (64 to 1024 channels), 2x2 stride-2
ConvTranspose upsampling, the skip connections concatenated, a 1x1 conv to the classes."""

from __future__ import annotations

from cnncc.modern.net import Net

CLASSES = 2


def double_conv(net: Net, x: str, cout: int) -> str:
    return net.conv_act(net.conv_act(x, cout, 3), cout, 3)


def unet(net: Net, x: str, base: int = 64) -> str:
    skips = []
    x = double_conv(net, x, base)
    for level in range(1, 5):
        skips.append(x)
        x = double_conv(net, net.max_pool(x, 2, 2, 0), base << level)
    for level in range(3, -1, -1):
        up = net.conv_transpose(x, base << level, 2, 2)
        x = double_conv(net, net.concat([skips[level], up]), base << level)
    return net.conv(x, CLASSES, 1, norm=False)
