"""The conv and pooling output-size formula the documents explain, and where SAME pads."""
import math


def conv_output_size(size, kernel, stride=1, padding="SAME"):
    """Output length of a convolution or pooling window along one axis.

    VALID keeps only full windows: floor((size - kernel) / stride) + 1.
    SAME pads so that every input position starts a window: ceil(size / stride).
    """
    padding = padding.upper()
    if padding == "VALID":
        return (size - kernel) // stride + 1
    if padding == "SAME":
        return math.ceil(size / stride)
    raise ValueError(f"unknown padding {padding!r}; choose SAME or VALID")


def same_padding(size, kernel, stride=1):
    """(before, after) zeros SAME adds along one axis; the odd one goes after (bottom, right)."""
    total = max((conv_output_size(size, kernel, stride, "SAME") - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
