"""Procedurally drawn colour images: the ``shapes10`` data set and the demo's scene images.

Everything here is drawn with numpy from a seeded generator (no files, no downloads), so the
same seed gives the same pixels on every machine.

An image is a *composition* on a ``size x size`` canvas with coordinates in [-1, 1]:

- a **background**: a vertical colour gradient plus a low-frequency colour texture (a sum of
  three random plane waves), optionally split by a horizon into "sky" and "ground" colours and
  overlaid with scene structure (side walls of a corridor, a back wall, building blocks);
- zero or more **objects**: one of :data:`SHAPE_CLASSES` at a centre, radius and rotation,
  filled with a random colour or two-colour stripes, with anti-aliased edges.

``shapes10`` (:func:`make_shapes10`) is one object per image, the label its shape class. Colour,
fill, position, size, rotation and background are drawn independently of the class, so colour
alone says nothing about the label and a classifier has to use spatial structure. It is a
*synthetic* stand-in for a natural-image data set such as CIFAR-10 in offline runs, and must be
named as such wherever its results appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from brainalign.errors import ConfigError

SHAPE_CLASSES: tuple[str, ...] = (
    "disk", "square", "triangle", "plus", "ring", "star", "crescent", "half_disk", "frame", "dots",
)
"""Shape classes, in label order (label i = SHAPE_CLASSES[i])."""

SCENE_LAYOUTS: tuple[str, ...] = ("open", "corridor", "room", "street")
"""Scene structures a background can carry (besides none)."""


@dataclass(frozen=True)
class ShapeObject:
    """One object of a composition.

    Attributes
    ----------
    shape : int
        Index into :data:`SHAPE_CLASSES`.
    center : tuple of float
        (x, y) in canvas coordinates [-1, 1]; y grows downwards.
    radius : float
        Half-size in canvas units.
    angle : float
        Rotation in radians.
    colour, stripe_colour : tuple of float
        RGB in [0, 1]; ``stripe_colour`` is used when ``stripes`` > 0.
    stripes : float
        Stripe frequency in cycles per radius (0 = solid fill).
    """

    shape: int
    center: tuple[float, float]
    radius: float
    angle: float
    colour: tuple[float, float, float]
    stripe_colour: tuple[float, float, float] = (0.0, 0.0, 0.0)
    stripes: float = 0.0


@dataclass(frozen=True)
class Background:
    """The background of a composition (see the module docstring).

    Attributes
    ----------
    top, bottom : tuple of float
        RGB at the top and bottom of the gradient (sky and ground when ``horizon`` is set).
    texture : ndarray, shape (3, 4)
        Three plane waves as rows (frequency x, frequency y, phase, amplitude).
    horizon : float or None
        Canvas y of the horizon (None = plain gradient).
    layout : str or None
        One of :data:`SCENE_LAYOUTS`, drawn relative to the horizon (needs ``horizon``).
    wall_colour : tuple of float
        RGB of walls and buildings.
    """

    top: tuple[float, float, float]
    bottom: tuple[float, float, float]
    texture: np.ndarray = field(default_factory=lambda: np.zeros((3, 4)))
    horizon: float | None = None
    layout: str | None = None
    wall_colour: tuple[float, float, float] = (0.5, 0.5, 0.5)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1], each (size, size); x = columns, y = rows."""
    axis = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    return np.meshgrid(axis, axis, indexing="xy")


def _box(x: np.ndarray, y: np.ndarray, half_x: float, half_y: float) -> np.ndarray:
    return np.maximum(np.abs(x) - half_x, np.abs(y) - half_y)


def shape_distance(shape: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Approximate signed distance to a unit-radius shape (negative inside).

    Parameters
    ----------
    shape : int
        Index into :data:`SHAPE_CLASSES`.
    x, y : ndarray
        Coordinates in the object's frame (already centred, rotated and divided by the radius).

    Returns
    -------
    ndarray, same shape as ``x``
    """
    r = np.hypot(x, y)
    name = SHAPE_CLASSES[shape]
    if name == "disk":
        return r - 0.9
    if name == "square":
        return _box(x, y, 0.75, 0.75)
    if name == "triangle":
        normals = [(np.cos(a), np.sin(a)) for a in np.deg2rad([90.0, 210.0, 330.0])]
        return np.max([nx * x + ny * y for nx, ny in normals], axis=0) - 0.45
    if name == "plus":
        return np.minimum(_box(x, y, 0.9, 0.28), _box(x, y, 0.28, 0.9))
    if name == "ring":
        return np.abs(r - 0.7) - 0.2
    if name == "star":
        return r - (0.55 + 0.35 * np.cos(5.0 * np.arctan2(y, x)))
    if name == "crescent":
        return np.maximum(r - 0.9, -(np.hypot(x - 0.45, y) - 0.7))
    if name == "half_disk":
        return np.maximum(r - 0.9, y - 0.1)
    if name == "frame":
        square = np.maximum(np.abs(x), np.abs(y))
        return np.maximum(square - 0.85, 0.5 - square)
    if name == "dots":
        return np.minimum(np.hypot(x + 0.5, y) - 0.38, np.hypot(x - 0.5, y) - 0.38)
    raise ConfigError(f"unknown shape index {shape}; expected 0..{len(SHAPE_CLASSES) - 1}.")


def render(background: Background, objects: Sequence[ShapeObject], size: int) -> np.ndarray:
    """Draw one composition.

    Parameters
    ----------
    background : Background
    objects : sequence of ShapeObject
        Drawn in order (later ones on top).
    size : int
        Width and height in pixels.

    Returns
    -------
    ndarray, shape (size, size, 3), uint8
    """
    x, y = _grid(size)
    t = ((y + 1.0) / 2.0)[..., None]
    canvas = (1 - t) * np.asarray(background.top) + t * np.asarray(background.bottom)
    if background.horizon is not None:
        ground = (y > background.horizon)[..., None]
        canvas = np.where(ground, np.asarray(background.bottom), np.asarray(background.top)) * (0.85 + 0.15 * t)
        canvas = _draw_layout(canvas, x, y, background)
    for fx, fy, phase, amplitude in background.texture:
        wave = amplitude * np.sin(np.pi * (fx * x + fy * y) + phase)
        canvas = canvas + wave[..., None] * np.array([1.0, 0.8, 0.6])
    pixel = 2.0 / size
    for obj in objects:
        cos, sin = np.cos(obj.angle), np.sin(obj.angle)
        dx, dy = x - obj.center[0], y - obj.center[1]
        u, v = (cos * dx + sin * dy) / obj.radius, (-sin * dx + cos * dy) / obj.radius
        alpha = np.clip(0.5 - shape_distance(obj.shape, u, v) * obj.radius / pixel, 0.0, 1.0)[..., None]
        fill = np.broadcast_to(np.asarray(obj.colour), canvas.shape)
        if obj.stripes > 0:
            band = (np.sin(np.pi * obj.stripes * u) > 0)[..., None]
            fill = np.where(band, np.asarray(obj.stripe_colour), fill)
        canvas = (1 - alpha) * canvas + alpha * fill
    return np.clip(np.rint(canvas * 255.0), 0, 255).astype(np.uint8)


def _draw_layout(canvas: np.ndarray, x: np.ndarray, y: np.ndarray, background: Background) -> np.ndarray:
    """Scene structure relative to the horizon: corridor walls, a back wall, or buildings."""
    wall = np.asarray(background.wall_colour)
    h = background.horizon
    if background.layout == "corridor":
        # Two side walls converging towards a vanishing point on the horizon.
        mask = np.abs(x) > 0.25 + 0.6 * np.clip(1 - np.abs(y - h) / 1.2, 0, 1) * 0.5
        shade = np.where(x < 0, 0.8, 1.0)[..., None]
        return np.where(mask[..., None], wall * shade, canvas)
    if background.layout == "room":
        mask = (np.abs(x) < 0.7) & (y < h) & (y > h - 1.1)
        return np.where(mask[..., None], wall, canvas)
    if background.layout == "street":
        heights = 0.3 + 0.5 * (0.5 + 0.5 * np.sin(7.0 * np.floor((x + 1) * 3) + 1.0))
        mask = (y < h) & (y > h - heights) & ((np.floor((x + 1) * 3) % 2) == 0)
        return np.where(mask[..., None], wall, canvas)
    return canvas


def random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A saturated random RGB colour in [0, 1]."""
    hue = rng.uniform(0, 1)
    rgb = 0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3])))
    value = rng.uniform(0.55, 1.0)
    return tuple(float(c) for c in value * (0.25 + 0.75 * rgb))


def random_background(
    rng: np.random.Generator, *, horizon: float | None = None, layout: str | None = None
) -> Background:
    """A random background; dull colours so objects stand out."""
    top, bottom = (tuple(float(c) for c in 0.15 + 0.5 * rng.uniform(size=3)) for _ in range(2))
    texture = np.column_stack(
        [rng.uniform(-3, 3, 3), rng.uniform(-3, 3, 3), rng.uniform(0, 2 * np.pi, 3), rng.uniform(0, 0.08, 3)]
    )
    wall = tuple(float(c) for c in 0.2 + 0.6 * rng.uniform(size=3))
    return Background(top, bottom, texture, horizon, layout, wall)


def random_object(
    rng: np.random.Generator, shape: int, *, radius: tuple[float, float] = (0.35, 0.65), spread: float = 1.0
) -> ShapeObject:
    """An object of class ``shape`` at a random place, size, rotation, colour and fill."""
    r = float(rng.uniform(*radius))
    limit = max(0.0, (1.0 - r) * spread)
    center = (float(rng.uniform(-limit, limit)), float(rng.uniform(-limit, limit)))
    stripes = float(rng.choice([0.0, 0.0, 2.0, 3.0]))
    return ShapeObject(
        shape=int(shape),
        center=center,
        radius=r,
        angle=float(rng.uniform(0, 2 * np.pi)),
        colour=random_colour(rng),
        stripe_colour=random_colour(rng),
        stripes=stripes,
    )


def make_shapes10(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` shapes10 images with balanced classes in random order.

    Parameters
    ----------
    n : int
        Number of images (>= 1).
    size : int
        Image width and height (>= 8).
    rng : numpy.random.Generator

    Returns
    -------
    images : ndarray, shape (n, size, size, 3), uint8
    labels : ndarray, shape (n,), int64
        Class index into :data:`SHAPE_CLASSES`; each class occurs ``n // 10`` or ``n // 10 + 1`` times.
    """
    if n < 1 or size < 8:
        raise ConfigError(f"shapes10 needs n >= 1 and size >= 8, got n={n}, size={size}.")
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES)).astype(np.int64)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i] = render(random_background(rng), [random_object(rng, label)], size)
    return images, labels
