"""Decoding and preprocessing: format by bytes, orientation, metadata, bombs, truncation."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image, ImageCms

from jobs.errors import JobFailure
from jobs.imaging import ImageFormat, prepare_photo, sniff_format
from scripts.local_services import REPO_ROOT
from tests.conftest import photo_bytes

MAX_PIXELS = 50_000_000
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_exif(orientation: int, size: tuple[int, int] = (400, 200)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (37.0, 33.0, 59.4), 3: "E", 4: (126.0, 58.0, 40.8)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param("naver/2.jpg", ImageFormat.JPEG, id="jpeg"),
        pytest.param("formats/can.heic", ImageFormat.HEIF, id="heic"),
        pytest.param("formats/can.avif", ImageFormat.AVIF, id="avif"),
    ],
)
def test_sniff_format_reads_the_bytes(relative: str, expected: ImageFormat) -> None:
    assert sniff_format(photo_bytes(relative)[:32]) == expected


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GIF89a" + b"\0" * 26, id="gif"),
        pytest.param(b"%PDF-1.7" + b"\0" * 24, id="pdf"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8", id="two-bytes"),
    ],
)
def test_sniff_format_rejects_other_files(head: bytes) -> None:
    assert sniff_format(head) is None


@pytest.mark.parametrize("relative", ["naver/2.jpg", "formats/can.heic", "formats/can.avif"])
def test_prepare_photo_decodes_supported_formats(relative: str) -> None:
    photo = prepare_photo(photo_bytes(relative), MAX_PIXELS)

    assert photo.image.mode == "RGB"
    assert max(photo.size) <= 1568
    assert photo.jpeg.startswith(b"\xff\xd8\xff")


def test_prepare_photo_handles_webp_and_transparent_png() -> None:
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (100, 50, 200, 150))
    for image_format in ("WEBP", "PNG"):
        buffer = io.BytesIO()
        rgba.save(buffer, format=image_format)

        photo = prepare_photo(buffer.getvalue(), MAX_PIXELS)

        assert photo.image.getpixel((10, 10)) == (255, 255, 255)
        assert photo.image.getpixel((150, 100))[1] > 100


def test_prepare_photo_applies_exif_orientation() -> None:
    photo = prepare_photo(jpeg_with_exif(orientation=6), MAX_PIXELS)

    assert photo.size == (200, 400)
    # Orientation 6 means: rotate 90 degrees clockwise, so the left (blue) half ends on top.
    top = photo.image.getpixel((100, 50))
    assert top[2] > top[0]


def test_prepare_photo_applies_heic_orientation() -> None:
    upright = prepare_photo(photo_bytes("formats/can.heic"), MAX_PIXELS)
    rotated = prepare_photo(photo_bytes("formats/can-rotated.heic"), MAX_PIXELS)

    assert upright.size == (720, 540)
    assert rotated.size == (540, 720)


def test_prepared_jpeg_carries_no_metadata() -> None:
    with_exif = Image.open(io.BytesIO(jpeg_with_exif(orientation=1)))
    buffer = io.BytesIO()
    # Pillow copies a comment and XMP from the source image unless they are dropped.
    with_exif.save(
        buffer,
        format="JPEG",
        exif=with_exif.info["exif"],
        comment=b"PhoneComment",
        xmp=b"<x:xmpmeta>PhoneXmp</x:xmpmeta>",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    original = buffer.getvalue()
    source = Image.open(io.BytesIO(original))
    assert source.getexif().get_ifd(GPS_IFD)
    assert {"comment", "xmp", "icc_profile"} <= set(source.info)

    photo = prepare_photo(original, MAX_PIXELS)
    reopened = Image.open(io.BytesIO(photo.jpeg))

    assert dict(reopened.getexif()) == {}
    for name in ("exif", "icc_profile", "comment", "xmp"):
        assert name not in reopened.info
    for marker in (b"PhoneMaker", b"PhoneComment", b"PhoneXmp"):
        assert marker not in photo.jpeg


def test_decompression_bomb_fails_before_decoding() -> None:
    bomb = png_bomb(60_000, 60_000)

    with pytest.raises(JobFailure) as raised:
        prepare_photo(bomb, MAX_PIXELS)

    assert len(bomb) < 200
    assert raised.value.code == "image_too_large"


def test_truncated_jpeg_is_unreadable() -> None:
    data = photo_bytes("naver/2.jpg")

    with pytest.raises(JobFailure) as raised:
        prepare_photo(data[: len(data) // 3], MAX_PIXELS)

    assert raised.value.code == "image_unreadable"


def test_garbage_after_a_jpeg_signature_is_unreadable() -> None:
    with pytest.raises(JobFailure) as raised:
        prepare_photo(b"\xff\xd8\xff\xe0" + b"\x13" * 500, MAX_PIXELS)

    assert raised.value.code == "image_unreadable"


def test_large_photo_is_reduced_to_1568_pixels() -> None:
    image = Image.new("RGB", (4000, 3000), (10, 120, 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)

    photo = prepare_photo(buffer.getvalue(), MAX_PIXELS)

    assert photo.size == (1568, 1176)
    assert photo.source_size == (4000, 3000)



def test_warm_up_imports_scipy_fft() -> None:
    # A fresh interpreter, because this test process has already imported SciPy.
    check = (
        "import sys\n"
        "from jobs.pipeline import warm_up\n"
        "assert 'scipy.fft' not in sys.modules, 'imported before the warm-up'\n"
        "warm_up()\n"
        "assert 'scipy.fft' in sys.modules, 'the warm-up did not reach the fingerprint'\n"
    )
    completed = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
