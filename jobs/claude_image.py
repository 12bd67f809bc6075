"""The photo as the Claude vision stage sends it: a JPEG within the API's image limits.

Two limits from Anthropic's vision guide (platform.claude.com/docs/en/build-with-claude/vision):

- The API rejects an image whose base64 text is over 5 MiB (5,242,880 bytes).
  We stay at or under 3/4 of that, lowering the JPEG quality and then the size.
- An image of more than about 1.15 megapixels is scaled down by the API
  before the model sees it, which costs time to first token and gains nothing.
  We scale it down ourselves, so the upload is smaller too.
"""

from __future__ import annotations

import io
import math

from PIL import Image

from jobs.imaging import JPEG_QUALITY, PreparedPhoto

API_MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
IMAGE_BASE64_BUDGET_BYTES = API_MAX_IMAGE_BASE64_BYTES * 3 // 4
API_MAX_USEFUL_PIXELS = 1_150_000
MIN_JPEG_QUALITY = 40
QUALITY_STEP = 15
SHRINK_FACTOR = 0.75


def base64_length(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


def image_for_api(photo: PreparedPhoto) -> bytes:
    """Return the photo as a JPEG of at most API_MAX_USEFUL_PIXELS whose base64 fits the budget."""
    image = photo.image
    jpeg = photo.jpeg
    if image.width * image.height > API_MAX_USEFUL_PIXELS:
        image = _scale(image, math.sqrt(API_MAX_USEFUL_PIXELS / (image.width * image.height)))
        jpeg = _encode(image, JPEG_QUALITY)

    quality = JPEG_QUALITY
    while base64_length(len(jpeg)) > IMAGE_BASE64_BUDGET_BYTES:
        if quality > MIN_JPEG_QUALITY:
            quality = max(quality - QUALITY_STEP, MIN_JPEG_QUALITY)
        else:
            image = _scale(image, SHRINK_FACTOR)
        jpeg = _encode(image, quality)
    return jpeg


def _scale(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, math.floor(image.width * factor)), max(1, math.floor(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _encode(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
