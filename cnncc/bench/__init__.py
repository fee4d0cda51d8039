"""``cnncc bench``: generated code against the runtimes people use, measured honestly.

Contenders run the same inputs with the same thread count, interleaved (A B A B ...) so that
drift on a noisy machine hits all of them; the figures are medians, p10/p90 and per-pair
ratios, never a single timing.
"""
