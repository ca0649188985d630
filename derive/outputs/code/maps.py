"""The helpers written into the module for feature maps: the convolution and the poolings, forward and back.

Each is a loop over the output positions, as a textbook draws it: the window a position reads,
the kernel laid over it, the δ sent back to that window.  Maps are arrays (channels, rows, columns);
kernels are (filters, channels, rows, columns).
"""

from __future__ import annotations

from derive.spec.model import NetworkSpec

_CONV2D = '''
def conv2d(
    x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, stride: int, padding: int
) -> np.ndarray:
    """net[f, r, s] = Σ_c Σ_a Σ_b K[f, c, a, b] · x_padded[c, r·stride + a, s·stride + b] + b_f.

    The cross-correlation every library computes, over x with ``padding`` zeros on every side.
    """
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    filters, _, height, width = kernels.shape
    rows = (padded.shape[1] - height) // stride + 1
    columns = (padded.shape[2] - width) // stride + 1
    net = np.zeros((filters, rows, columns))
    for r in range(rows):
        for s in range(columns):
            top, left = r * stride, s * stride
            window = padded[:, top : top + height, left : left + width]
            net[:, r, s] = np.sum(kernels * window, axis=(1, 2, 3)) + bias
    return net
'''

_KERNEL_GRADIENT = '''
def kernel_gradient(
    x: np.ndarray, delta: np.ndarray, kernels: np.ndarray, stride: int, padding: int
) -> np.ndarray:
    """∂E/∂K[f, c, a, b] = Σ_r Σ_s δ[f, r, s] · x_padded[c, r·stride + a, s·stride + b].

    A kernel entry acts at every position of the map, so its gradient adds up one term per
    position: δ there times the input the entry met.
    """
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    _, _, height, width = kernels.shape
    gradient = np.zeros_like(kernels)
    for r in range(delta.shape[1]):
        for s in range(delta.shape[2]):
            top, left = r * stride, s * stride
            window = padded[:, top : top + height, left : left + width]
            gradient += delta[:, r, s].reshape(-1, 1, 1, 1) * window
    return gradient
'''

_CONV2D_BACKWARD = '''
def conv2d_backward(
    delta: np.ndarray, kernels: np.ndarray, shape: tuple, stride: int, padding: int
) -> np.ndarray:
    """∂E/∂x for the map x (of ``shape``) a convolution read: each δ[f, r, s] goes back to its
    window through the kernel weights, Σ_f δ[f, r, s] · K[f, c, a, b] into x_padded[c, r·stride + a, s·stride + b].

    At stride 1 this is the full convolution of the δ map with the flipped kernel; the padding's
    zeros are cut off at the end, since they are no input.
    """
    channels, rows, columns = shape
    _, _, height, width = kernels.shape
    padded = np.zeros((channels, rows + 2 * padding, columns + 2 * padding))
    for r in range(delta.shape[1]):
        for s in range(delta.shape[2]):
            top, left = r * stride, s * stride
            # Σ_f δ[f, r, s] · K[f]: the kernels weighted by the δ of this position
            sent = np.tensordot(delta[:, r, s], kernels, axes=1)
            padded[:, top : top + height, left : left + width] += sent
    return padded[:, padding : padding + rows, padding : padding + columns]
'''

_MAX_POOL = '''
def max_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """out[c, r, s] = the largest value of the size×size window at (r·stride, s·stride) of channel c."""
    channels, rows, columns = x.shape
    out_rows, out_columns = (rows - size) // stride + 1, (columns - size) // stride + 1
    out = np.zeros((channels, out_rows, out_columns))
    for r in range(out_rows):
        for s in range(out_columns):
            top, left = r * stride, s * stride
            window = x[:, top : top + size, left : left + size]
            out[:, r, s] = window.max(axis=(1, 2))
    return out


def max_pool_backward(
    x: np.ndarray, d_out: np.ndarray, size: int, stride: int
) -> np.ndarray:
    """∂E/∂x: each window's ∂E/∂out goes whole to the value that was its maximum, nothing to the rest.

    Of equal maxima the first in row order takes it (np.argmax scans the window row by row).
    """
    d_x = np.zeros_like(x)
    for c in range(d_out.shape[0]):
        for r in range(d_out.shape[1]):
            for s in range(d_out.shape[2]):
                top, left = r * stride, s * stride
                window = x[c, top : top + size, left : left + size]
                a, b = divmod(int(np.argmax(window)), size)
                d_x[c, top + a, left + b] += d_out[c, r, s]
    return d_x
'''

_AVG_POOL = '''
def avg_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """out[c, r, s] = the mean of the size×size window at (r·stride, s·stride) of channel c."""
    channels, rows, columns = x.shape
    out_rows, out_columns = (rows - size) // stride + 1, (columns - size) // stride + 1
    out = np.zeros((channels, out_rows, out_columns))
    for r in range(out_rows):
        for s in range(out_columns):
            top, left = r * stride, s * stride
            window = x[:, top : top + size, left : left + size]
            out[:, r, s] = window.mean(axis=(1, 2))
    return out


def avg_pool_backward(
    x: np.ndarray, d_out: np.ndarray, size: int, stride: int
) -> np.ndarray:
    """∂E/∂x: each window's ∂E/∂out is shared equally, 1/size² to every value of the window."""
    d_x = np.zeros_like(x)
    for r in range(d_out.shape[1]):
        for s in range(d_out.shape[2]):
            top, left = r * stride, s * stride
            share = d_out[:, r, s].reshape(-1, 1, 1) / size**2
            d_x[:, top : top + size, left : left + size] += share
    return d_x
'''


def map_helpers(spec: NetworkSpec) -> list[str]:
    """The convolution and pooling helpers this network uses, in a fixed order."""
    kinds = [layer.kind for layer in spec.layers]
    helpers = []
    if "conv2d" in kinds:
        helpers += [_CONV2D, _KERNEL_GRADIENT]
        if any(kind == "conv2d" for kind in kinds[1:]):  # only a convolution above the first sends δ back through one
            helpers.append(_CONV2D_BACKWARD)
    if "maxpool" in kinds:
        helpers.append(_MAX_POOL)
    if "avgpool" in kinds:
        helpers.append(_AVG_POOL)
    return helpers
