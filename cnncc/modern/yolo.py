"""A YOLOv8n detector as ultralytics defines and exports it (width 0.25, depth 0.33, 80 classes):
Conv-BN-SiLU layers, C2f blocks (Split, bottlenecks, Concat), SPPF (three chained 5x5 max
pools), a path-aggregation neck with nearest Resize and Concat, and the anchor-free head with
its distribution focal loss decoding (Reshape, Transpose, Softmax, a 1x1 conv of 0..15) into
one (1, 84, anchors) output of boxes (xywh, pixels) and class probabilities."""

from __future__ import annotations

import numpy as np

from cnncc.modern.net import RESIDUAL_SCALE, Net

CLASSES = 80
REG_MAX = 16
STRIDES = (8, 16, 32)


def cbs(net: Net, x: str, cout: int, k: int = 1, s: int = 1, scale: float = 1.0) -> str:
    """ultralytics' Conv: Conv2d (BN folded) + SiLU, spelled x * Sigmoid(x)."""
    return net.silu(net.conv(x, cout, k, s, scale=scale))


def c2f(net: Net, x: str, cout: int, n: int, shortcut: bool) -> str:
    c = cout // 2
    y = net.split(cbs(net, x, 2 * c), (c, c))
    for _ in range(n):
        b = cbs(net, cbs(net, y[-1], c, 3), c, 3, scale=RESIDUAL_SCALE if shortcut else 1.0)
        y.append(net.add(y[-1], b) if shortcut else b)
    return cbs(net, net.concat(y), cout)


def sppf(net: Net, x: str, cout: int) -> str:
    y = [cbs(net, x, net.channels(x) // 2)]
    for _ in range(3):
        y.append(net.max_pool(y[-1], 5, 1, 2))
    return cbs(net, net.concat(y), cout)


def upsample(net: Net, x: str) -> str:
    """nn.Upsample(scale_factor=2, mode="nearest") as exported: Resize with scales."""
    scales = net.const(np.array([1, 1, 2, 2], np.float32), "scales")
    return net.op("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def anchors(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell centres (2, A) and the stride of each anchor (1, A), as make_anchors makes them."""
    points, strides = [], []
    for s in STRIDES:
        h = w = size // s
        sy, sx = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        points.append(np.stack([sx.ravel(), sy.ravel()]))
        strides.append(np.full(h * w, s))
    return np.concatenate(points, 1).astype(np.float32), np.concatenate(strides)[None].astype(np.float32)


def detect(net: Net, features, size: int) -> str:
    c2, c3 = max(16, net.channels(features[0]) // 4, REG_MAX * 4), max(net.channels(features[0]), min(CLASSES, 100))
    levels = []
    for f in features:
        box = net.conv(cbs(net, cbs(net, f, c2, 3), c2, 3), 4 * REG_MAX, norm=False)
        cls = net.conv(cbs(net, cbs(net, f, c3, 3), c3, 3), CLASSES, norm=False)
        levels.append(net.op("Reshape", [net.concat([box, cls]), net.ints([1, 4 * REG_MAX + CLASSES, -1])]))
    out = net.concat(levels, axis=2)
    box, cls = net.split(out, (4 * REG_MAX, CLASSES))
    # DFL: the expected bin of a softmax over 16 bins, per side
    dist = net.op("Reshape", [box, net.ints([1, 4, REG_MAX, -1])])
    dist = net.op("Softmax", [net.op("Transpose", [dist], perm=[0, 2, 1, 3])], axis=1)
    bins = net.const(np.arange(REG_MAX, dtype=np.float32).reshape(1, REG_MAX, 1, 1), "dfl.weight")
    dist = net.op("Reshape", [net.op("Conv", [dist, bins], kernel_shape=[1, 1]), net.ints([1, 4, -1])])
    # dist2bbox (xywh), in pixels
    lt, rb = net.split(dist, (2, 2))
    points, strides = anchors(size)
    p = net.const(points[None], "anchors")
    x1y1, x2y2 = net.op("Sub", [p, lt]), net.add(p, rb)
    centre = net.op("Div", [net.add(x1y1, x2y2), net.scalar(2.0)])
    wh = net.op("Sub", [x2y2, x1y1])
    boxes = net.mul(net.concat([centre, wh]), net.const(strides, "strides"))
    return net.concat([boxes, net.sigmoid(cls)])


def yolov8n(net: Net, x: str, size: int) -> str:
    x = cbs(net, x, 16, 3, 2)
    x = cbs(net, x, 32, 3, 2)
    x = c2f(net, x, 32, 1, True)
    x = cbs(net, x, 64, 3, 2)
    p3 = c2f(net, x, 64, 2, True)
    x = cbs(net, p3, 128, 3, 2)
    p4 = c2f(net, x, 128, 2, True)
    x = cbs(net, p4, 256, 3, 2)
    x = c2f(net, x, 256, 1, True)
    p5 = sppf(net, x, 256)
    n4 = c2f(net, net.concat([upsample(net, p5), p4]), 128, 1, False)
    n3 = c2f(net, net.concat([upsample(net, n4), p3]), 64, 1, False)
    m4 = c2f(net, net.concat([cbs(net, n3, 64, 3, 2), n4]), 128, 1, False)
    m5 = c2f(net, net.concat([cbs(net, m4, 128, 3, 2), p5]), 256, 1, False)
    return detect(net, [n3, m4, m5], size)
