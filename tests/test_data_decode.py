"""The decoding rules, each bad input a generated file: skipped and counted once, never a
traceback; and the pixels of the odd-but-valid ones (16-bit grey, EXIF rotation, alpha)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from ganzoo.data import open_dataset
from ganzoo.data.decode import BadImage, DecodeRules, decode
from ganzoo.data.folder import SkippedImagesWarning


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width``×``height`` (a decompression bomb's shape):
    the pixel data is a few bytes, so decoding it would fail only after a huge allocation."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg(array: np.ndarray, exif_orientation: int | None = None) -> bytes:
    image = Image.fromarray(array)
    buf = io.BytesIO()
    if exif_orientation is None:
        image.save(buf, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


RULES = DecodeRules(16, 1)


def test_a_decompression_bomb_is_rejected_from_its_header_without_decoding():
    bomb = png_declaring(100_000, 100_000)  # 10 gigapixels, 150 bytes on disk
    t0 = time.perf_counter()
    with pytest.raises(BadImage, match=r"declares 100000×100000 pixels.*not decoded"):
        decode(bomb, RULES)
    assert time.perf_counter() - t0 < 5  # a bound on a hang, not a timing claim
    # the cap is an option: an ordinary 64×64 image over a cap of 1,000 pixels is skipped too
    ordinary = np.full((64, 64), 128, np.uint8)
    with pytest.raises(BadImage, match="over the cap of 1,000"):
        decode(jpeg(ordinary), DecodeRules(16, 1, max_pixels=1000))
    assert decode(jpeg(ordinary), RULES).shape == (16, 16, 1)
    # Pillow's own global limit is left as it was
    assert Image.MAX_IMAGE_PIXELS == 89_478_485


def test_truncated_empty_and_non_image_files_are_bad_images():
    photo = jpeg(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(BadImage, match="truncated"):
        decode(photo[: len(photo) // 2], RULES)
    with pytest.raises(BadImage, match="empty file"):
        decode(b"", RULES)
    with pytest.raises(BadImage, match="not an image"):
        decode(b"just some text, saved as .png", RULES)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    grey16 = np.full((8, 8), 32768, dtype=np.uint16)  # half of full scale
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, "PNG")
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "I;16"
    out = decode(buf.getvalue(), DecodeRules(8, 1))
    assert (out == 128).all()  # Pillow's own convert("L") would give 255: white
    ramp = (np.arange(64, dtype=np.uint32).reshape(8, 8) * 1040).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, "PNG")
    out = decode(buf.getvalue(), DecodeRules(8, 3))
    assert out.shape == (8, 8, 3) and out.min() == 0 and 250 <= out.max() <= 255
    assert len(np.unique(out)) > 50  # the ramp survives


def test_exif_orientation_is_applied():
    stored = np.zeros((20, 40), np.uint8)  # 40 wide: left half black, right half white
    stored[:, 20:] = 255
    plain = decode(jpeg(stored), DecodeRules(20, 1))[..., 0]
    assert plain[:, :8].mean() < 30 and plain[:, 12:].mean() > 225  # left dark, right light
    # orientation 6: shown rotated 90° clockwise, 20 wide and 40 tall, black on top
    turned = decode(jpeg(stored, exif_orientation=6), DecodeRules(20, 1))[..., 0]
    assert turned[:8].mean() < 30 and turned[12:].mean() > 225


def test_transparency_becomes_white_and_large_jpegs_keep_their_content():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    assert (decode(buf.getvalue(), DecodeRules(10, 3)) == 255).all()
    # a large photo decoded at a reduced JPEG scale still matches a full decode closely
    rng = np.random.default_rng(0)
    big = np.kron(rng.integers(0, 255, (12, 16, 3)), np.ones((100, 100, 1))).astype(np.uint8)
    data = jpeg(big)
    fast = decode(data, DecodeRules(32, 3)).astype(float)
    full = np.asarray(
        Image.open(io.BytesIO(data)).convert("RGB").resize((32, 32), box=(200, 0, 1400, 1200))
    )
    assert np.abs(fast - full).mean() < 6


def test_a_folder_with_every_kind_of_bad_file_skips_each_once(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
            tmp_path / f"good{i}.png"
        )
    photo = jpeg(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "truncated.jpg").write_bytes(photo[: len(photo) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "bomb.png").write_bytes(png_declaring(60_000, 60_000))
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    with pytest.warns(SkippedImagesWarning, match="skipped 4 of 7 files") as caught:
        store = open_dataset(tmp_path, 16, 3)
    assert len([w for w in caught if issubclass(w.category, SkippedImagesWarning)]) == 1
    assert store.count == 3
    skipped = dict((p.rsplit("/", 1)[-1], why) for p, why in store.skipped())
    assert set(skipped) == {"truncated.jpg", "empty.png", "text.jpg", "bomb.png"}
    assert "declares 60000×60000" in skipped["bomb.png"] and "empty" in skipped["empty.png"]
    assert store.meta["skipped"] == 4
