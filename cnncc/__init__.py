"""cnncc: a compiler from trained convolutional neural networks to optimized native code."""

__version__ = "0.1.0"
