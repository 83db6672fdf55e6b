"""Collage tiles (classifiers/images/collage.py): each picture of a collage is found on its own,
and ordinary pictures, screenshots and pages of text are not cut up."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from classifiers.images.collage import tiles

Box = tuple[int, int, int, int]


def _photo(seed: int, w: int, h: int, background: tuple[int, int, int] | None = None) -> Image.Image:
    """A textured stand-in for a photo; with `background`, a drawing on a flat background (a logo)."""
    rng = np.random.default_rng(seed)
    if background is None:
        small = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        noise = rng.integers(-30, 30, (h, w, 3))
        return Image.fromarray(np.clip(np.asarray(im).astype(int) + noise, 0, 255).astype(np.uint8))
    im = Image.new("RGB", (w, h), background)
    d = ImageDraw.Draw(im)
    d.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(20, 20, 20))
    return im


def _grid(cells: list[list[Image.Image]], gap: int, colour: tuple[int, int, int], margin: int) -> tuple[np.ndarray, list[Box]]:
    """Rows of pictures with `gap` px between them and `margin` px around, all in `colour`."""
    widths = [sum(p.width for p in row) + gap * (len(row) - 1) for row in cells]
    heights = [max(p.height for p in row) for row in cells]
    canvas = Image.new("RGB", (max(widths) + 2 * margin, sum(heights) + gap * (len(cells) - 1) + 2 * margin), colour)
    boxes = []
    y = margin
    for row, rh in zip(cells, heights, strict=True):
        x = margin
        for p in row:
            canvas.paste(p, (x, y))
            boxes.append((x, y, x + p.width, y + p.height))
            x += p.width + gap
        y += rh + gap
    return np.asarray(canvas), boxes


def _close(found: list[Box], want: list[Box], tol: int = 6) -> bool:
    return len(found) == len(want) and all(any(max(abs(p - q) for p, q in zip(f, w, strict=True)) <= tol for f in found) for w in want)


COLLAGES = {
    "strip of 2, white gutter and frame": ([[_photo(1, 300, 240), _photo(2, 300, 240)]], 6, (255, 255, 255), 6),
    "strip of 3, black gutter, no frame": ([[_photo(3, 200, 260), _photo(4, 200, 260), _photo(5, 200, 260)]], 8, (0, 0, 0), 0),
    "2x2 grid": ([[_photo(6, 260, 200), _photo(7, 260, 200)], [_photo(8, 260, 200), _photo(9, 260, 200)]], 4, (255, 255, 255), 4),
    "thin 2 px gutter": ([[_photo(10, 320, 320), _photo(11, 320, 320)]], 2, (250, 250, 250), 2),
    "a logo on white beside a photo": ([[_photo(12, 300, 300, background=(255, 255, 255)), _photo(13, 300, 300)]], 4, (255, 255, 255), 4),
}


@pytest.mark.parametrize("label", list(COLLAGES))
def test_each_picture_of_a_collage_is_a_tile(label: str) -> None:
    cells, gap, colour, margin = COLLAGES[label]
    img, boxes = _grid(cells, gap, colour, margin)
    found = tiles(img)
    if label == "a logo on white beside a photo":  # the logo's own white joins the gutter: its box shrinks to the drawing
        assert len(found) == 2 and _close(found[1:], boxes[1:]), found
    else:
        assert _close(found, boxes), (found, boxes)


def test_a_picture_in_a_letterboxed_cell_is_trimmed_to_itself() -> None:
    img, boxes = _grid([[_photo(20, 300, 300), _photo(21, 300, 160)]], 4, (255, 255, 255), 4)
    found = tiles(img)
    assert _close(found, boxes), (found, boxes)


def _smooth_wall_photo() -> np.ndarray:
    """A clock on a wall whose colour drifts slowly: uniform columns beside the object, not gutters."""
    yy, xx = np.mgrid[0:300, 0:500].astype(np.float32)
    wall = np.stack([150 + xx / 20, 140 + xx / 25, 130 + yy / 30], axis=2).astype(np.uint8)
    im = Image.fromarray(wall)
    ImageDraw.Draw(im).ellipse((180, 60, 360, 240), fill=(240, 240, 235), outline=(30, 30, 30), width=8)
    return np.asarray(im)


def _text_page() -> np.ndarray:
    im = Image.new("RGB", (600, 800), "white")
    d = ImageDraw.Draw(im)
    for i, y in enumerate(range(30, 760, 28)):
        if i % 6 != 5:  # a blank line between paragraphs
            d.text((30, y), "lorem ipsum dolor sit amet consectetur adipiscing " * 2, fill=(0, 0, 0), font=ImageFont.load_default())
    return np.asarray(im)


def _chat_screenshot() -> np.ndarray:
    im = Image.new("RGB", (540, 1000), (17, 27, 33))
    d = ImageDraw.Draw(im)
    for i, y in enumerate(range(20, 960, 90)):
        x0 = 16 if i % 2 else 200
        d.rounded_rectangle((x0, y, x0 + 320, y + 56), radius=12, fill=(32, 44, 51))
        d.text((x0 + 12, y + 20), "liat nih wkwk", fill=(230, 230, 230))
    return np.asarray(im)


NOT_COLLAGES = {
    "photo": np.asarray(_photo(30, 480, 360)),
    "photo with a white border": np.asarray(Image.fromarray(np.pad(np.asarray(_photo(31, 400, 300)), ((20, 20), (20, 20), (0, 0)), constant_values=255))),
    "smooth wall": _smooth_wall_photo(),
    "page of text": _text_page(),
    "chat screenshot": _chat_screenshot(),
    "flat colour": np.full((300, 400, 3), 200, np.uint8),
    "tiny": np.zeros((10, 10, 3), np.uint8),
    "grey 2-D array": np.zeros((100, 100), np.uint8),
    "empty": np.zeros((0, 0, 3), np.uint8),
}


@pytest.mark.parametrize("label", list(NOT_COLLAGES))
def test_a_picture_that_is_not_a_collage_has_no_tiles(label: str) -> None:
    assert tiles(NOT_COLLAGES[label]) == []


def test_more_tiles_than_a_collage_has_is_a_grid_of_something_else() -> None:
    img, _ = _grid([[_photo(40 + 4 * r + c, 120, 120) for c in range(4)] for r in range(3)], 4, (255, 255, 255), 4)
    assert tiles(img) == []
    assert len(tiles(img, max_tiles=12, min_area=0.05)) == 12
