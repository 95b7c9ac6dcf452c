"""Digit images for examples/lenet.py: scikit-learn's bundled digits or MNIST IDX files.

Both end up as LeNet-5's input: a 28x28 digit centred in a 32x32 frame, as float32
``[N, 1, 32, 32]`` standardised with the training set's mean and std, and int64 labels.
"""

from __future__ import annotations

import gzip
import os

import numpy as np


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights of bilinear resampling (pixel centres aligned, edges clamped,
    as torch's ``interpolate(align_corners=False)`` and PIL do)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``[N, h, w]`` images to ``[N, size, size]``: two small matmuls."""
    rows, cols = bilinear_matrix(images.shape[1], size), bilinear_matrix(images.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, images, cols)


def frame(images: np.ndarray, size: int = 32) -> np.ndarray:
    """Centre ``[N, h, w]`` images in a ``size x size`` zero frame, as ``[N, 1, size, size]``."""
    top, left = (size - images.shape[1]) // 2, (size - images.shape[2]) // 2
    out = np.zeros((len(images), 1, size, size), dtype=np.float32)
    out[:, 0, top : top + images.shape[1], left : left + images.shape[2]] = images
    return out


def load_digits(test_fraction: float = 0.2):
    """scikit-learn's 1,797 8x8 digits (0..16), upsampled to 28x28 and framed to 32x32.

    Bilinear rather than nearest upsampling: nearest makes 3.5-pixel blocks whose hard edges
    the 5x5 filters would learn instead of the strokes; bilinear gives smooth strokes of the
    width MNIST digits have. The split is fixed (seed 0, stratified by class) whatever
    ``--seed`` is, so accuracies are comparable between runs.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    digits = sk_load_digits()
    x = frame(resize(digits.images / 16.0, 28))
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(len(idx) * test_fraction))]] = True
    return x[~test], y[~test], x[test], y[test]


def read_idx(path: str) -> np.ndarray:
    """One IDX file (MNIST's format: big-endian header, then raw data), gzipped or not."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in types:
        raise ValueError(f"{path}: unknown IDX element type {raw[2]:#x}")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", ndim, 4))
    data = np.frombuffer(raw, types[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, found {data.size} values")
    return data.reshape(shape)


def _find(directory: str, stem: str) -> str:
    """``train-images-idx3-ubyte`` as distributed, or with ``.`` before idx, maybe ``.gz``."""
    names = [stem, stem.replace("-idx", ".idx")]
    for name in names:
        for ext in ("", ".gz"):
            path = os.path.join(directory, name + ext)
            if os.path.exists(path):
                return path
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_mnist(directory: str):
    """MNIST from its four IDX files in ``directory`` (28x28 digits framed to 32x32, /255)."""
    parts = []
    for split in ("train", "t10k"):
        images = read_idx(_find(directory, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find(directory, f"{split}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
        parts += [frame(images / 255.0), labels.astype(np.int64)]
    return tuple(parts)


def standardise(train: np.ndarray, test: np.ndarray):
    """Zero mean, unit variance with the training set's statistics (test data unseen)."""
    mean, std = float(train.mean()), float(train.std())
    return (train - mean) / std, (test - mean) / std
