"""Procedurally drawn images: objects land where they are drawn; colour does not give the class away."""

import numpy as np
import pytest

from brainalign.errors import ConfigError
from brainalign.tasks.shapes import Background, ShapeObject, make_shapes10, render


def test_an_object_is_drawn_at_its_centre_in_its_colour_over_the_background():
    background = Background(top=(0.0, 0.0, 1.0), bottom=(0.0, 0.0, 1.0))
    disk = ShapeObject(shape=0, center=(0.5, -0.5), radius=0.3, angle=0.0, colour=(1.0, 0.0, 0.0))
    image = render(background, [disk], 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert tuple(image[8, 24]) == (255, 0, 0)  # row 8 = y -0.47, column 24 = x 0.53: inside the disk
    assert tuple(image[24, 8]) == (0, 0, 255)  # far corner: background


def test_shapes10_is_deterministic_and_balanced():
    a, labels = make_shapes10(30, 16, np.random.default_rng(5))
    b, _ = make_shapes10(30, 16, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert np.bincount(labels).tolist() == [3] * 10
    with pytest.raises(ConfigError):
        make_shapes10(10, 4, np.random.default_rng(0))


def test_shapes10_class_is_not_given_away_by_colour():
    """Known answer: colour is drawn independently of the shape, so mean colour barely predicts the class."""
    images, labels = make_shapes10(2000, 16, np.random.default_rng(0))
    colour = images.reshape(len(images), -1, 3).mean(axis=1)
    centroids = np.stack([colour[labels == c].mean(0) for c in range(10)])
    predicted = np.argmin(((colour[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (predicted == labels).mean() < 0.2  # chance is 0.1 (in-sample centroids, so slightly above)
