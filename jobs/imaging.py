"""Photo decoding and preprocessing with Pillow.

The real format comes from the file's first bytes, never from its name or
declared type. Decoding checks the declared pixel count before allocating
anything, applies EXIF orientation, and drops all metadata (GPS included) from
every image derived from the upload.
"""

from __future__ import annotations

import enum
import functools
import io
import warnings

import pi_heif
from PIL import Image, ImageFile

from jobs.errors import JobFailure

# pi-heif is the decode-only build of pillow-heif: libheif and libde265 (LGPL),
# without the GPL x265 encoder.
pi_heif.register_heif_opener()
ImageFile.LOAD_TRUNCATED_IMAGES = False

# The vision model never needs more than this; 1568 px is the long edge the
# Anthropic API uses before it would downscale the image itself.
MAX_LONG_EDGE_PX = 1568
JPEG_QUALITY = 85
SNIFF_BYTES = 32

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_BY_ORIENTATION = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


class ImageFormat(str, enum.Enum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIF = "heif"
    AVIF = "avif"

    @property
    def content_type(self) -> str:
        return f"image/{self.value}"


def sniff_format(head: bytes) -> ImageFormat | None:
    """Recognise a supported image format from the first bytes of a file."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 32) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return ImageFormat.AVIF
        if brands & _HEIF_BRANDS:
            return ImageFormat.HEIF
    return None


class PreparedPhoto:
    """The upload decoded, upright, stripped of metadata and reduced for the AI."""

    def __init__(self, image: Image.Image, source_format: ImageFormat, source_size: tuple[int, int]):
        self.image = image
        self.source_format = source_format
        self.source_size = source_size

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    @functools.cached_property
    def jpeg(self) -> bytes:
        """The photo as a JPEG, encoded on first use.

        Only a provider that sends the photo away needs it (the on-device and
        simulated ones read the pixels), and encoding takes about as long as
        decoding, so it is not done up front.
        """
        buffer = io.BytesIO()
        self.image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=False)
        return buffer.getvalue()


def open_upright(data: bytes, max_pixels: int, target_long_edge: int) -> tuple[Image.Image, ImageFormat, tuple[int, int]]:
    """Decode `data` at the smallest scale that still covers `target_long_edge`, upright, in RGB.

    Raises JobFailure `unsupported_image`, `image_too_large` or `image_unreadable`.
    """
    image_format = sniff_format(data[:SNIFF_BYTES])
    if image_format is None:
        raise JobFailure("unsupported_image")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise JobFailure("image_too_large", pixels=width * height, limit=max_pixels)
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            if image.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers the target:
                # far less work than a full decode followed by a resize. draft()
                # keeps both sides at least as large as the requested box, so the
                # box has the photo's own aspect ratio.
                image.draft("RGB", _draft_box(width, height, target_long_edge))
            image.load()
    except JobFailure:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise JobFailure("image_too_large", detail=str(err), pixels="?", limit=max_pixels) from err
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as err:
        # Pillow reports truncated and corrupt files as OSError or SyntaxError;
        # the AVIF and HEIF decoders raise RuntimeError and ValueError.
        raise JobFailure("image_unreadable", detail=str(err)) from err

    if image.mode != "RGB":
        image = _to_rgb(image)
    for step in _TRANSPOSE_BY_ORIENTATION.get(orientation, ()):
        image = image.transpose(step)
    return image, image_format, (width, height)


def _draft_box(width: int, height: int, long_edge: int) -> tuple[int, int]:
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, like the paper a product photo sits on.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def prepare_photo(data: bytes, max_pixels: int, max_long_edge: int = MAX_LONG_EDGE_PX) -> PreparedPhoto:
    """Decode, orient and reduce to `max_long_edge`, without metadata. `.jpeg` encodes the result."""
    image, image_format, source_size = open_upright(data, max_pixels, max_long_edge)
    return finish_photo(image, image_format, source_size, max_long_edge)


def finish_photo(
    image: Image.Image, image_format: ImageFormat, source_size: tuple[int, int], max_long_edge: int = MAX_LONG_EDGE_PX
) -> PreparedPhoto:
    """Reduce an upright image from `open_upright` and drop its metadata (the image passed in is changed)."""
    image = reduce_to(image, max_long_edge)
    # Pillow's JPEG encoder copies the comment and XMP from `info` and writes EXIF
    # and ICC data only when asked. With `info` empty, no metadata survives an encode.
    image.info = {}
    return PreparedPhoto(image, image_format, source_size)


def reduce_to(image: Image.Image, max_long_edge: int) -> Image.Image:
    long_edge = max(image.size)
    if long_edge <= max_long_edge:
        return image
    scale = max_long_edge / long_edge
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
