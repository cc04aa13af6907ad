"""Data augmentation for images (``data.augment``): every training batch is a fresh random variant of its
examples, drawn while the batch is drawn; validation, test and prediction see the images as they are.

An example is a row of H·W grey levels (``data.image_shape``, or a square inferred from the row's length:
Fashion-MNIST 28×28, digits 8×8). For each image of a batch, in this order:

- ``flip: p``: with probability p, the mirror image (left and right swapped: right for clothes, wrong for
  digits);
- ``translate: t``: shift by whole pixels (dy, dx), each drawn uniformly from {−t, …, t};
- ``rotate: a``: rotate by an angle drawn uniformly from [−a, a] degrees about the image's centre;
- ``elastic: s``: an elastic distortion: a displacement of each pixel, smooth over the image. Displacements
  are drawn N(0, s²) pixels at the nodes of a coarse ``elastic_grid`` × ``elastic_grid`` grid and
  interpolated bilinearly in between (a cheap stand-in for Simard et al.'s Gaussian-smoothed field);
- ``erase: p``: random erasing (Zhong et al. 2017): with probability p, a rectangle covering a fraction of
  the image drawn from ``erase_area`` [lo, hi], with an aspect ratio between 0.3 and 3.3, is set to ``fill``.

The geometric steps are one gather per image: each output pixel q reads the input at
p = R(−θ)(q − c − t) + c + d(q) (c the centre, t the shift, θ the angle, d the elastic displacement;
a mirrored image negates the column of q − c − t first), the
nearest pixel where p is whole (shifts alone) and a bilinear mix of the four around it otherwise; pixels read
from outside the image are ``fill`` (the background, raw grey level 0 by default). The work is on the raw
grey levels: the preprocessing is undone on the batch, and done again after.

Randomness: the draws of batch b of epoch e come from their own stream, spawned from the run's
``augment`` stream (``nnlab.seeds``) with the key (e, b). A run is therefore reproducible from its seed,
and a resumed run (even one stopped inside an epoch) draws exactly what the uninterrupted run drew, with
nothing to store in its checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from nnlab.errors import ConfigError, did_you_mean

ASPECT = (0.3, 3.3)  # random erasing's range of aspect ratios (height / width), drawn log-uniformly


@dataclass(frozen=True)
class AugmentSpec:
    """``data.augment``'s keys, their defaults (nothing changes) and their meaning: see the module's docstring."""

    flip: float = 0.0  # probability of a mirror image (left ↔ right)
    translate: int = 0  # pixels, each axis
    rotate: float = 0.0  # degrees
    elastic: float = 0.0  # pixels, the standard deviation of the displacements at the grid's nodes
    elastic_grid: int = 4  # nodes per side of the coarse grid the displacements are drawn on
    erase: float = 0.0  # probability of erasing a rectangle
    erase_area: tuple = (0.02, 0.2)  # fraction of the image the rectangle covers, drawn uniformly in [lo, hi]
    fill: float = 0.0  # raw grey level of the background, of erased and of uncovered pixels


_CHECKS = {
    "flip": (lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
    "translate": (lambda v: isinstance(v, int) and 0 <= v, "a whole number of pixels ≥ 0"),
    "rotate": (lambda v: 0 <= v <= 180, "degrees in [0, 180]"),
    "elastic": (lambda v: v >= 0, "pixels ≥ 0"),
    "elastic_grid": (lambda v: isinstance(v, int) and v >= 2, "a whole number of nodes ≥ 2"),
    "erase": (lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
    "fill": (lambda v: True, "a number"),
}


def check_augment(spec) -> dict | None:
    """``data.augment`` checked (a mapping of ``AugmentSpec``'s keys) and with every default filled in;
    ValueError naming the key otherwise."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"must be a mapping such as {{translate: 2, erase: 0.5}}, got {spec!r}")
    known = list(AugmentSpec.__dataclass_fields__)
    for key, value in spec.items():
        if key not in known:
            raise ValueError(
                f".{key}: unknown augmentation{did_you_mean(str(key), known)} (choices: {', '.join(known)})"
            )
        if key == "erase_area":
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) for v in value)
            if not ok or not 0 < value[0] <= value[1] <= 1:
                raise ValueError(f".erase_area: must be [lo, hi] with 0 < lo ≤ hi ≤ 1, got {value!r}")
            continue
        test, what = _CHECKS[key]
        if not _number(value) or not test(value):
            raise ValueError(f".{key}: must be {what}, got {value!r}")
    out = asdict(AugmentSpec(**spec))
    out["erase_area"] = list(out["erase_area"])
    return out


def check_image_shape(shape) -> list | None:
    """``data.image_shape``: [height, width], two whole numbers ≥ 1."""
    if shape is not None and (len(shape) != 2 or any(v < 1 for v in shape)):
        raise ValueError(f"must be [HEIGHT, WIDTH], two numbers of pixels ≥ 1, got {shape!r}")
    return shape


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def image_shape(n_features: int, given=None) -> tuple[int, int]:
    """(H, W) of the images: ``given`` (``data.image_shape``) checked against the rows' length, else the
    square of that length."""
    if given is not None:
        h, w = (int(v) for v in given)
        if h * w != n_features:
            raise ConfigError(
                f"data.image_shape: {h}×{w} = {h * w} pixels, but the data have {n_features} features per example"
            )
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ConfigError(
            f"data.augment needs the images' shape: {n_features} features per example is no square; give "
            "data.image_shape: [HEIGHT, WIDTH]"
        )
    return side, side


def build_augmenter(data_cfg, preprocessor, n_features: int, seed_sequence, dtype):
    """The augmenter of ``data.augment``, or None where the config asks for none (or only zeros)."""
    spec = getattr(data_cfg, "augment", None)
    spec = None if spec is None else AugmentSpec(**spec)
    if spec is None or not (spec.flip or spec.translate or spec.rotate or spec.elastic or spec.erase):
        return None
    shape = image_shape(n_features, getattr(data_cfg, "image_shape", None))
    return Augmenter(spec, shape, preprocessor.shift, preprocessor.scale, seed_sequence, dtype)


class Augmenter:
    """``augmenter(x, epoch, batch)``: a new array, the batch ``x`` (preprocessed rows) augmented."""

    def __init__(self, spec, shape, shift, scale, seed_sequence, dtype):
        self.spec, (self.h, self.w) = spec, shape
        self.dtype = np.dtype(dtype)
        shift = np.zeros(self.h * self.w) if shift is None else np.asarray(shift, np.float64)
        scale = np.ones(self.h * self.w) if scale is None else np.asarray(scale, np.float64)
        # one shift and one scale for every pixel ("scale", "none"): the work needs no undoing
        self.uniform = bool(np.all(shift == shift[0]) and np.all(scale == scale[0]))
        self.shift, self.scale = shift.astype(self.dtype), scale.astype(self.dtype)
        self.inv_scale = (1.0 / scale).astype(self.dtype)
        self.fill = ((spec.fill - shift) * scale).astype(self.dtype)  # the fill value, preprocessed, per pixel
        self.seed = seed_sequence
        rows, cols = np.divmod(np.arange(self.h * self.w), self.w)
        self.cy, self.cx = (self.h - 1) / 2, (self.w - 1) / 2
        self.ry, self.rx = rows - self.cy, cols - self.cx  # each pixel's position about the centre
        self.rows, self.cols = rows, cols
        g = max(int(spec.elastic_grid), 2)
        self.up_h, self.up_w = _upsampler(g, self.h), _upsampler(g, self.w)

    def rng(self, epoch: int, batch: int) -> np.random.Generator:
        ss = np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, int(epoch), int(batch)))
        return np.random.default_rng(ss)

    def __call__(self, x: np.ndarray, epoch: int, batch: int) -> np.ndarray:
        rng, spec = self.rng(epoch, batch), self.spec
        m, h, w = len(x), self.h, self.w
        raw = x if self.uniform else x * self.inv_scale + self.shift  # raw grey levels (a new array)
        fill = self.fill[0] if self.uniform else self.dtype.type(spec.fill)
        if spec.rotate or spec.elastic:
            sy, sx = self._sources(rng, m)
            out = _gather(raw, sy, sx, h, w, fill)
        elif spec.flip or spec.translate:
            out = self._shifted(rng, raw, fill)
        else:
            out = raw.copy() if raw is x else raw
        if spec.erase:
            np.copyto(out.reshape(m, h, w), fill, where=self._erase_mask(rng, m))
        if not self.uniform:
            out -= self.shift
            out *= self.scale
        return out.astype(self.dtype, copy=False)

    def _shifted(self, rng, raw: np.ndarray, fill) -> np.ndarray:
        """Mirrored and shifted by whole pixels: the images framed by ``translate`` pixels of ``fill``, and
        of each frame the H×W window at (t − dy, t − dx), all picked in one indexing ((m, H·W), a new array)."""
        spec, (m, h, w), t = self.spec, (len(raw), self.h, self.w), int(self.spec.translate)
        images = raw.reshape(m, h, w)
        if spec.flip:
            mirrored = rng.random(m) < spec.flip
            images = np.where(mirrored[:, None, None], images[:, :, ::-1], images)
        if not t:
            return images.reshape(m, h * w).copy() if images.base is raw or images is raw else images.reshape(m, -1)
        framed = np.full((m, h + 2 * t, w + 2 * t), fill, dtype=raw.dtype)
        framed[:, t : t + h, t : t + w] = images
        dy, dx = rng.integers(-t, t + 1, size=(2, m))
        windows = np.lib.stride_tricks.sliding_window_view(framed, (h, w), axis=(1, 2))  # (m, 2t+1, 2t+1, h, w)
        return windows[np.arange(m), t - dy, t - dx].reshape(m, h * w)  # out(r, c) = in(r − dy, c − dx)

    def _sources(self, rng, m: int) -> tuple[np.ndarray, np.ndarray]:
        """For every output pixel of every image, where in the input it reads (rows, columns; (m, H·W))."""
        spec, ry, rx = self.spec, self.ry[None, :], self.rx[None, :]
        if spec.flip:  # a mirrored image reads column −x about the centre
            rx = rx * np.where(rng.random((m, 1)) < spec.flip, -1.0, 1.0)
        t = int(spec.translate)
        dy = rng.integers(-t, t + 1, size=(m, 1)) if t else np.zeros((m, 1))
        dx = rng.integers(-t, t + 1, size=(m, 1)) if t else np.zeros((m, 1))
        if spec.rotate:
            theta = np.deg2rad(rng.uniform(-spec.rotate, spec.rotate, size=(m, 1)))
            c, s = np.cos(theta), np.sin(theta)
            py, px = ry - dy, rx - dx
            sy, sx = c * py + s * px + self.cy, -s * py + c * px + self.cx  # R(−θ) applied, back from the centre
        else:
            sy, sx = (ry - dy + self.cy) + 0.0, (rx - dx + self.cx) + 0.0
        if spec.elastic:
            g = self.up_h.shape[1]
            for coord in (sy, sx):
                nodes = rng.normal(0.0, spec.elastic, size=(m, g, g))
                field = self.up_h @ nodes @ self.up_w.T  # (m, H, W), smooth between the grid's nodes
                coord += field.reshape(m, -1)
        return sy, sx

    def _erase_mask(self, rng, m: int) -> np.ndarray:
        """(m, H, W), True inside each image's erased rectangle (nowhere where the image keeps all)."""
        spec, h, w = self.spec, self.h, self.w
        on = rng.random(m) < spec.erase
        lo, hi = spec.erase_area
        area = rng.uniform(lo, hi, size=m) * h * w
        ratio = np.exp(rng.uniform(math.log(ASPECT[0]), math.log(ASPECT[1]), size=m))
        eh = np.clip(np.rint(np.sqrt(area * ratio)), 1, h).astype(np.int64)
        ew = np.clip(np.rint(np.sqrt(area / ratio)), 1, w).astype(np.int64)
        y0 = (rng.random(m) * (h - eh + 1)).astype(np.int64)
        x0 = (rng.random(m) * (w - ew + 1)).astype(np.int64)
        r, c = np.arange(h)[None, :], np.arange(w)[None, :]
        rows = (r >= y0[:, None]) & (r < (y0 + eh)[:, None]) & on[:, None]
        cols = (c >= x0[:, None]) & (c < (x0 + ew)[:, None])
        return rows[:, :, None] & cols[:, None, :]


def _upsampler(g: int, n: int) -> np.ndarray:
    """(n, g): bilinear interpolation from g evenly spaced nodes (at both ends) to n pixels."""
    pos = np.linspace(0, g - 1, n)
    lo = np.minimum(np.floor(pos).astype(np.int64), g - 2)
    frac = pos - lo
    u = np.zeros((n, g))
    u[np.arange(n), lo] = 1 - frac
    u[np.arange(n), lo + 1] = frac
    return u


def _gather(raw: np.ndarray, sy: np.ndarray, sx: np.ndarray, h: int, w: int, fill) -> np.ndarray:
    """Each image's pixels read at (sy, sx): the nearest pixel where every source is whole, else bilinear;
    ``fill`` outside the image. A new (m, H·W) array."""
    m = len(raw)
    padded = np.empty((m, h * w + 1), dtype=raw.dtype)  # the last column is the fill value
    padded[:, :-1] = raw
    padded[:, -1] = fill
    oob = h * w

    def take(yi, xi):
        idx = yi * w + xi
        idx[(yi < 0) | (yi >= h) | (xi < 0) | (xi >= w)] = oob
        return np.take_along_axis(padded, idx, axis=1)

    y0f, x0f = np.floor(sy), np.floor(sx)
    fy, fx = (sy - y0f).astype(raw.dtype), (sx - x0f).astype(raw.dtype)
    y0, x0 = y0f.astype(np.int64), x0f.astype(np.int64)
    if not fy.any() and not fx.any():
        return take(y0, x0)
    top = take(y0, x0) * (1 - fx) + take(y0, x0 + 1) * fx
    bottom = take(y0 + 1, x0) * (1 - fx) + take(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def tta_views(augment: dict | None, n_features: int, given_shape=None) -> list:
    """Test-time augmentation (``nnlab eval --tta``): the fixed variants of an image that ``augment``
    (``data.augment``) trained the network on, as functions from raw rows (m, H·W) to a new array: the image
    itself first; its mirror where ``flip`` > 0; shifts by one pixel down, up, right and left where
    ``translate`` ≥ 1, and the mirror of each where both (10 views). Pixels shifted in are ``fill``. The
    random steps (rotation, elastic, erasing) have no such fixed variant and add none."""
    spec = AugmentSpec(**(augment or {}))
    mirrors = (False, True) if spec.flip else (False,)
    shifts = [(0, 0)] + ([(1, 0), (-1, 0), (0, 1), (0, -1)] if spec.translate else [])
    if len(mirrors) * len(shifts) == 1:
        return [np.asarray]
    h, w = image_shape(n_features, given_shape)
    return [_View(h, w, mirror, dy, dx, spec.fill) for mirror in mirrors for dy, dx in shifts]


@dataclass(frozen=True)
class _View:
    h: int
    w: int
    mirror: bool
    dy: int  # out(r, c) = in(r − dy, c − dx), after the mirror
    dx: int
    fill: float

    def __call__(self, X) -> np.ndarray:
        h, w, dy, dx = self.h, self.w, self.dy, self.dx
        images = np.asarray(X).reshape(len(X), h, w)
        if self.mirror:
            images = images[:, :, ::-1]
        out = np.full(images.shape, self.fill, dtype=np.result_type(images.dtype, np.float32))
        out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
            :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
        return out.reshape(len(X), h * w)
