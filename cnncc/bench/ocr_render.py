"""Text images with known ground truth for the OCR accuracy check, rendered with Pillow.

Lines are two or three words from a fixed list, drawn in several fonts and sizes, dark on a
light background, upright or rotated 180 degrees. Everything is seeded, so a sample set is the
same on every run where the same fonts are found.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnncc.errors import UsageError

WORDS = (
    "invoice", "total", "amount", "date", "number", "paid", "order", "street", "city", "phone",
    "model", "tensor", "kernel", "compile", "native", "vector", "matrix", "layer", "weight", "signal",
    "north", "river", "garden", "yellow", "window", "market", "silver", "planet", "Monday", "Paris",
    "Berlin", "Coffee", "Station", "Ticket", "Office", "2026", "1984", "42", "315", "7.50",
)

# DejaVu and Liberation families, looked up by file name: matplotlib (the bench extra) bundles
# the DejaVu ones, so most machines with cnncc[bench] find the same files.
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")


@dataclass(frozen=True)
class Font:
    name: str
    path: str | None  # None: Pillow's built-in scalable font

    def at(self, size: int):
        from PIL import ImageFont

        if self.path is None:
            return ImageFont.load_default(size=size)
        return ImageFont.truetype(self.path, size)


@dataclass
class LineSample:
    """One text line, cropped the way a detector crops it (a few pixels of margin)."""

    image: np.ndarray  # H x W x 3 uint8, RGB
    text: str
    rotated: bool
    font: str
    size: int


@dataclass
class PageSample:
    """A page of several lines; ``boxes`` are each line's (x0, y0, x1, y1) in the image."""

    image: np.ndarray
    texts: list[str]
    boxes: list[tuple[int, int, int, int]]
    rotated: bool
    fonts: list[str] = field(default_factory=list)


def find_fonts() -> list[Font]:
    """The fonts of FONT_FILES found on this machine, then Pillow's built-in scalable font
    (Pillow >= 10.1 with FreeType); at least one, or a UsageError saying what to install."""
    from PIL import ImageFont

    dirs = []
    try:
        import matplotlib

        dirs.append(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf")
    except ImportError:
        pass
    dirs += [Path(d) for d in FONT_DIRS]
    fonts = []
    for filename in FONT_FILES:
        for d in dirs:
            hits = sorted(d.rglob(filename)) if d.is_dir() else []
            if hits:
                fonts.append(Font(Path(filename).stem, str(hits[0])))
                break
    try:
        ImageFont.load_default(size=20)
        fonts.append(Font("pillow-default", None))
    except (TypeError, OSError, ImportError):  # an old Pillow, or one without FreeType
        pass
    if not fonts:
        raise UsageError("no scalable font found: install matplotlib or DejaVu fonts, or a Pillow with FreeType")
    return fonts


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.choice((2, 2, 3))))


def _colors(rng: random.Random) -> tuple[int, int]:
    return rng.randint(0, 70), rng.randint(200, 255)  # ink, paper


def text_width(text: str, font: Font, size: int) -> int:
    from PIL import Image, ImageDraw

    x0, _, x1, _ = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font.at(size))
    return x1 - x0


def render_line(text: str, font: Font, size: int, rotated: bool = False, ink: int = 0, paper: int = 255) -> LineSample:
    from PIL import Image, ImageDraw

    face = font.at(size)
    x0, y0, x1, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    margin = max(3, size // 5)
    image = Image.new("RGB", (x1 - x0 + 2 * margin, y1 - y0 + 2 * margin), (paper,) * 3)
    ImageDraw.Draw(image).text((margin - x0, margin - y0), text, font=face, fill=(ink,) * 3)
    if rotated:
        image = image.rotate(180)
    return LineSample(np.asarray(image), text, rotated, font.name, size)


def render_page(texts: list[str], fonts: list[Font], sizes: list[int], height: int, width: int, rotated: bool = False,
                ink: int = 0, paper: int = 255) -> PageSample:
    """``texts[i]`` in ``fonts[i]`` at ``sizes[i]``, one line under the other from the top left,
    each line's gap half its height (so a detector sees separate lines)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (paper,) * 3)
    draw = ImageDraw.Draw(image)
    boxes = []
    y = max(sizes) // 2
    for text, font, size in zip(texts, fonts, sizes):
        face = font.at(size)
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=face)
        left = size // 2
        if left + x1 - x0 > width - size // 2 or y + y1 - y0 > height:
            raise UsageError(f"page {width}x{height} too small for {text!r} at {size} px")
        draw.text((left - x0, y - y0), text, font=face, fill=(ink,) * 3)
        boxes.append((left, y, left + x1 - x0, y + y1 - y0))
        y += (y1 - y0) * 3 // 2 + size // 4
    if rotated:
        image = image.rotate(180)
        boxes = [(width - bx1, height - by1, width - bx0, height - by0) for bx0, by0, bx1, by1 in boxes]
    return PageSample(np.asarray(image), list(texts), boxes, rotated, [f.name for f in fonts])


def line_samples(count: int, seed: int = 0, sizes: tuple[int, ...] = (18, 24, 32)) -> list[LineSample]:
    """``count`` lines cycling through the fonts found and ``sizes``; every other one rotated 180."""
    rng = random.Random(seed)
    fonts = find_fonts()
    samples = []
    for i in range(count):
        ink, paper = _colors(rng)
        font = fonts[i % len(fonts)]
        size = sizes[(i // len(fonts)) % len(sizes)]
        samples.append(render_line(random_text(rng), font, size, rotated=i % 2 == 1, ink=ink, paper=paper))
    return samples


def page_samples(count: int, height: int, width: int, lines: int = 4, seed: int = 1) -> list[PageSample]:
    """``count`` pages of ``lines`` lines each, fonts and sizes mixed; every other page rotated 180."""
    rng = random.Random(seed)
    fonts = find_fonts()
    pages = []
    for i in range(count):
        ink, paper = _colors(rng)
        chosen = [fonts[(i + k) % len(fonts)] for k in range(lines)]
        sizes = [rng.choice((16, 20, 24)) for _ in range(lines)]
        texts = []
        for font, size in zip(chosen, sizes):
            text = random_text(rng)
            while text_width(text, font, size) > width - size:  # draw again until it fits across
                text = random_text(rng)
            texts.append(text)
        pages.append(render_page(texts, chosen, sizes, height, width, rotated=i % 2 == 1, ink=ink, paper=paper))
    return pages
