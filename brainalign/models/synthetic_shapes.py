"""A procedurally generated image set for pre-training the embedded default's tiny ViT.

Why not a real set: the embedded default must run offline, and every real image set it
has (the MNIST digits, the colour stand-in for CIFAR-10, the BOLD5000 stimuli) is a
tuning task or a brain stimulus set; pre-training on one of them would leak that set
into the "base" model. Shapes give the tiny ViT generic low-level vision (colour, edges,
position, texture) and nothing task-specific.

Each image: a random background colour with pixel noise, and one shape of a random
colour at a random position and size. The label is the shape's kind (:data:`SHAPES`).
The set is a pure function of ``(n, image_size, seed)``.
"""

from __future__ import annotations

import numpy as np

from brainalign.errors import ConfigError

#: Class names, in label order.
SHAPES: tuple[str, ...] = (
    "disc", "square", "triangle", "ring", "cross", "horizontal_stripes", "vertical_stripes", "checkerboard",
)


def _shape_mask(kind: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float, period: float) -> np.ndarray:
    """Boolean mask (S, S) of shape ``kind`` centred at (cy, cx) with half-size r."""
    dy, dx = yy - cy, xx - cx
    inside = (np.abs(dy) <= r) & (np.abs(dx) <= r)
    name = SHAPES[kind]
    if name == "disc":
        return dy**2 + dx**2 <= r**2
    if name == "square":
        return inside
    if name == "triangle":  # apex up: |dx| grows with dy
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    if name == "ring":
        d2 = dy**2 + dx**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if name == "cross":
        width = max(r / 3, 0.75)
        return inside & ((np.abs(dy) <= width) | (np.abs(dx) <= width))
    if name == "horizontal_stripes":
        return inside & (np.floor((dy + r) / period) % 2 == 0)
    if name == "vertical_stripes":
        return inside & (np.floor((dx + r) / period) % 2 == 0)
    return inside & ((np.floor((dy + r) / period) + np.floor((dx + r) / period)) % 2 == 0)  # checkerboard


def synthetic_shapes(n: int, *, image_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` labelled shape images.

    Parameters
    ----------
    n : int
        Number of images; labels cycle through the classes, so they are balanced.
    image_size : int
        Side in pixels (>= 8).
    seed : int

    Returns
    -------
    images : np.ndarray, uint8, shape (n, image_size, image_size, 3)
    labels : np.ndarray, int64, shape (n,)
        Indices into :data:`SHAPES`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < len(SHAPES):
        raise ConfigError(f"synthetic shapes: n must be an integer >= {len(SHAPES)}, got {n!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ConfigError(f"synthetic shapes: image_size must be an integer >= 8, got {image_size!r}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % len(SHAPES)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float64)
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    for i, kind in enumerate(labels):
        background = rng.uniform(0, 255, size=3)
        colour = rng.uniform(0, 255, size=3)
        while np.abs(colour - background).sum() < 150:  # keep the shape visible
            colour = rng.uniform(0, 255, size=3)
        r = rng.uniform(0.2, 0.4) * image_size
        cy, cx = rng.uniform(r, image_size - r, size=2)
        period = max(1.0, rng.uniform(0.2, 0.35) * r)
        mask = _shape_mask(int(kind), yy, xx, cy, cx, r, period)
        picture = np.where(mask[..., None], colour, background) + rng.normal(0, 12, size=(image_size, image_size, 3))
        images[i] = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
    return images, labels
