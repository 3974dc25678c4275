#!/usr/bin/env python3
"""Writes the fixtures for io.tomestream.image's tests: small source images and, for each case,
the tensor timm's eval transform makes of them, computed with PIL exactly as timm would.

timm's transform is rebuilt here from PIL calls instead of imported, because torchvision in this
environment is a CUDA build that fails to import. What is mirrored (timm 1.0.29, torchvision 0.28):

  transforms_imagenet_eval (crop_mode "center"):
    scale_size = floor(img_size / crop_pct) per side
    square:      Resize(scale_size)  -> shorter side to scale_size, longer int(scale * long / short)
    non-square:  ResizeKeepRatio(scale_size) -> round(side / min ratio); timm passes no
                 interpolation to it, so it is always bilinear
    CenterCrop(img_size): pad with zeros where the crop is larger, else
                 top = int(round((h - crop_h) / 2.0)) (Python's half-to-even round)
    ToTensor (float32 / 255), Normalize ((x - mean) / std in float32)

  Resize on a PIL image returns it untouched if it already has the size; otherwise it is
  img.resize((w, h), resample).

Source images are always re-opened from the written file, so the expected values are what PIL
decodes from exactly the bytes the Java test reads.

One deliberate departure from PIL: a plain 16-bit grey PNG opens as mode "I;16" and PIL's
convert("L"/"RGB") clips it (everything above 255 turns white). The Java decoder scales
round(v * 255 / 65535) instead, and so does this script for that case.

Usage: make_preprocess_fixtures.py [output_dir]
  default output_dir: tornado-kernels/src/test/resources/preprocess in this repository
"""

import io
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


# ---------------------------------------------------------------- timm's eval transform, via PIL

def resized_output_size(h, w, size):
    """torchvision.transforms.functional._compute_resized_output_size for a single int size."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_h, new_w


def center_crop(arr, crop_h, crop_w):
    """torchvision.transforms.functional.center_crop on an HWC/HW uint8 array."""
    h, w = arr.shape[:2]
    if crop_w > w or crop_h > h:
        left = (crop_w - w) // 2 if crop_w > w else 0
        top = (crop_h - h) // 2 if crop_h > h else 0
        right = (crop_w - w + 1) // 2 if crop_w > w else 0
        bottom = (crop_h - h + 1) // 2 if crop_h > h else 0
        pad = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
        arr = np.pad(arr, pad, mode="constant", constant_values=0)
        h, w = arr.shape[:2]
        if crop_w == w and crop_h == h:
            return arr
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return arr[top:top + crop_h, left:left + crop_w]


def to_mode(img, channels):
    mode = "RGB" if channels == 3 else "L"
    if img.mode == "I;16":
        a = np.asarray(img).astype(np.uint32)
        img = Image.fromarray(((a * 255 + 32767) // 65535).astype(np.uint8), "L")
    return img.convert(mode)


def eval_transform(img, spec):
    """Returns (cropped uint8 HWC array, CHW float32 tensor, resized (w, h))."""
    img = to_mode(img, spec["channels"])
    out_h, out_w = spec["height"], spec["width"]
    crop_pct = spec["crop_pct"]
    scale_h, scale_w = math.floor(out_h / crop_pct), math.floor(out_w / crop_pct)
    w, h = img.size
    if scale_h == scale_w:
        new_h, new_w = resized_output_size(h, w, scale_h)
        resample = RESAMPLE[spec["interpolation"]]
    else:
        ratio = min(h / scale_h, w / scale_w)
        new_h, new_w = round(h / ratio), round(w / ratio)
        resample = Image.Resampling.BILINEAR
    if (new_h, new_w) != (h, w):
        img = img.resize((new_w, new_h), resample)
    arr = np.asarray(img)
    cropped = center_crop(arr, out_h, out_w)
    chw = cropped.reshape(out_h, out_w, -1).transpose(2, 0, 1)
    mean = np.array(spec["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.array(spec["std"], dtype=np.float32).reshape(-1, 1, 1)
    tensor = (chw.astype(np.float32) / np.float32(255) - mean) / std
    check_against_torch(chw, spec, tensor)
    return cropped.reshape(out_h, out_w, -1), tensor.astype(np.float32), (new_w, new_h)


def check_against_torch(chw, spec, tensor):
    """ToTensor + Normalize as torch computes them, where torch itself imports (torchvision need not)."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - torch is optional here
        return
    t = torch.from_numpy(np.array(chw)).to(torch.float32).div(255)
    t = t.sub_(torch.tensor(spec["mean"]).view(-1, 1, 1)).div_(torch.tensor(spec["std"]).view(-1, 1, 1))
    if not np.array_equal(t.numpy(), tensor):
        raise AssertionError("numpy float32 normalisation differs from torch's")


# ---------------------------------------------------------------- source images

def rng(seed):
    return np.random.default_rng(seed)


def photo_like(h, w, seed):
    """Gradients, noise and a hard-edged block: smooth areas plus edges where bicubic overshoots and clips."""
    r = rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([
        xx * 255.0 / max(w - 1, 1),
        yy * 255.0 / max(h - 1, 1),
        (xx + yy) * 128.0 / (w + h) + r.integers(0, 90, (h, w)),
    ], -1)
    a = a + r.normal(0, 12, a.shape)
    a[h // 4: h // 2, w // 5: w // 2] = (250, 5, 5)
    a[h // 2:, (3 * w) // 4:] = (0, 0, 0)
    a[(2 * h) // 3:, : w // 6] = (255, 255, 255)
    return a.clip(0, 255).astype(np.uint8)


def save(img, path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path.name


def gif_with_offset_frame(path):
    """A GIF whose first frame sits at (4, 3) on a larger screen, with a transparent index: PIL paints
    the uncovered canvas with that index. PIL cannot write such a file, so one is patched."""
    r = rng(11)
    idx = r.integers(0, 16, (14, 20), dtype=np.uint8)
    frame = Image.fromarray(idx, "P")
    frame.putpalette(r.integers(0, 256, 16 * 3, dtype=np.uint8).tobytes())
    buf = io.BytesIO()
    frame.save(buf, "GIF", transparency=3, optimize=False)
    data = bytearray(buf.getvalue())
    struct.pack_into("<HH", data, 6, 26, 18)  # logical screen
    pos = 13
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    while data[pos] == 0x21:  # skip extensions
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C, "image descriptor not found"
    struct.pack_into("<HH", data, pos + 1, 4, 3)
    path.write_bytes(bytes(data))
    return path.name


def make_images(d):
    names = {}
    names["rgb"] = save(Image.fromarray(photo_like(30, 40, 1)), d / "rgb_40x30.png")
    names["wide"] = save(Image.fromarray(photo_like(61, 97, 2)), d / "rgb_97x61.png")
    rgba = np.dstack([photo_like(23, 17, 3), rng(4).integers(0, 256, (23, 17), dtype=np.uint8)])
    names["rgba"] = save(Image.fromarray(rgba, "RGBA"), d / "rgba_17x23.png")
    g16 = (photo_like(20, 24, 5)[..., 1].astype(np.uint16) * 257 + rng(6).integers(0, 257, (20, 24))).astype(np.uint16)
    names["gray16"] = save(Image.fromarray(g16), d / "gray16_24x20.png")
    pal = Image.fromarray(rng(7).integers(0, 48, (29, 37), dtype=np.uint8), "P")
    pal.putpalette(rng(8).integers(0, 256, 48 * 3, dtype=np.uint8).tobytes())
    second = Image.fromarray(np.zeros((29, 37), np.uint8), "P")
    second.putpalette(pal.getpalette())
    names["gif"] = save(pal, d / "palette_37x29.gif", save_all=True, append_images=[second], optimize=False)
    names["gif_offset"] = gif_with_offset_frame(d / "offset_frame_26x18.gif")
    idx4 = Image.fromarray(rng(9).integers(0, 16, (21, 19), dtype=np.uint8), "P")
    idx4.putpalette(rng(10).integers(0, 256, 16 * 3, dtype=np.uint8).tobytes())
    names["indexed_png"] = save(idx4, d / "indexed4_19x21.png", bits=4, optimize=False)
    names["bmp"] = save(Image.fromarray(photo_like(27, 33, 12)), d / "rgb_33x27.bmp")
    names["bmp8"] = save(pal.convert("RGB").quantize(64, dither=Image.Dither.NONE), d / "palette8_37x29.bmp")
    names["jpeg"] = save(Image.fromarray(photo_like(36, 48, 13)), d / "photo_48x36.jpg", quality=90)
    names["jpeg_prog"] = save(Image.fromarray(photo_like(36, 48, 14)), d / "progressive_48x36.jpg",
                              quality=85, progressive=True, subsampling=1)
    cmyk = np.dstack([photo_like(24, 40, 15), rng(15).integers(0, 120, (24, 40), dtype=np.uint8)])
    names["cmyk"] = save(Image.fromarray(cmyk, "CMYK"), d / "cmyk_40x24.jpg", quality=95)
    names["gray"] = save(Image.fromarray(photo_like(28, 28, 16)[..., 0]), d / "gray_28x28.png")
    names["exact"] = save(Image.fromarray(photo_like(32, 32, 17)), d / "exact_32x32.png")
    names["tall"] = save(Image.fromarray(photo_like(400, 3, 18)), d / "tall_3x400.png")
    names["webp"] = save(Image.fromarray(photo_like(30, 44, 19)), d / "lossless_44x30.webp", lossless=True)
    names["tiff"] = save(Image.fromarray(photo_like(26, 34, 21)), d / "rgb_34x26.tiff")
    names["tiff_lzw"] = save(Image.fromarray(photo_like(26, 34, 22)), d / "lzw_34x26.tiff", compression="tiff_lzw")
    names["tiff_gray"] = save(Image.fromarray(photo_like(20, 24, 23)[..., 0]), d / "gray_24x20.tiff", compression="tiff_adobe_deflate")
    # Lossy WebP: decoders may round chroma upsampling differently, so beside it goes PIL's (libwebp's)
    # decoding as a PNG, for a test with a tolerance rather than a bit-exact case.
    names["webp_lossy"] = save(Image.fromarray(photo_like(30, 44, 20)), d / "lossy_44x30.webp", quality=90)
    with Image.open(d / names["webp_lossy"]) as lossy:
        save(lossy.convert("RGB"), d / "lossy_44x30.webp.pil.png")
    return names


# ---------------------------------------------------------------- cases

def spec(channels, height, width, interpolation, crop_pct, mean, std):
    return {"channels": channels, "height": height, "width": width, "interpolation": interpolation,
            "crop_pct": crop_pct, "mean": list(mean), "std": list(std)}


RGB = (IMAGENET_MEAN, IMAGENET_STD)
GREY = ((0.5,), (0.25,))


def cases(n):
    c = [
        ("rgb_bicubic_0875", n["rgb"], spec(3, 32, 32, "bicubic", 0.875, *RGB)),
        ("rgb_bilinear_09", n["rgb"], spec(3, 32, 32, "bilinear", 0.9, *RGB)),
        ("rgb_nearest_0875", n["rgb"], spec(3, 24, 24, "nearest", 0.875, *RGB)),
        ("rgb_to_luminance", n["rgb"], spec(1, 24, 24, "bicubic", 0.95, *GREY)),
        ("rgb_padded_crop_125", n["rgb"], spec(3, 32, 32, "bicubic", 1.25, INCEPTION_MEAN, INCEPTION_STD)),
        ("rgb_non_square_24x32", n["rgb"], spec(3, 24, 32, "bicubic", 0.875, *RGB)),
        ("wide_downscale_bicubic", n["wide"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("wide_downscale_nearest", n["wide"], spec(3, 24, 24, "nearest", 1.0, *RGB)),
        ("rgba_drops_alpha", n["rgba"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("gray16_scaled", n["gray16"], spec(1, 16, 16, "bilinear", 0.875, *GREY)),
        ("gif_first_frame", n["gif"], spec(3, 24, 24, "bicubic", 0.875, INCEPTION_MEAN, INCEPTION_STD)),
        ("gif_offset_frame_canvas", n["gif_offset"], spec(3, 16, 16, "bilinear", 1.0, *RGB)),
        ("indexed_png_4bit", n["indexed_png"], spec(3, 16, 16, "bicubic", 0.875, *RGB)),
        ("bmp_rgb", n["bmp"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("bmp_palette_to_luminance", n["bmp8"], spec(1, 24, 24, "bilinear", 0.875, *GREY)),
        ("jpeg_baseline", n["jpeg"], spec(3, 32, 32, "bicubic", 0.875, *RGB)),
        ("jpeg_progressive", n["jpeg_prog"], spec(3, 24, 24, "bilinear", 0.9, *RGB)),
        ("jpeg_cmyk", n["cmyk"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("gray_upscale_28_to_56", n["gray"], spec(1, 56, 56, "bicubic", 1.0, *GREY)),
        ("gray_upscale_nearest", n["gray"], spec(1, 40, 40, "nearest", 1.0, *GREY)),
        ("passthrough_32", n["exact"], spec(3, 32, 32, "bicubic", 1.0, *RGB)),
        ("tall_vertical_first", n["tall"], spec(3, 2, 2, "bicubic", 1.0, *RGB)),
        ("webp_lossless", n["webp"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("tiff_rgb", n["tiff"], spec(3, 24, 24, "bicubic", 0.875, *RGB)),
        ("tiff_lzw", n["tiff_lzw"], spec(3, 24, 24, "bilinear", 0.9, *RGB)),
        ("tiff_deflate_gray_to_rgb", n["tiff_gray"], spec(3, 16, 16, "bicubic", 1.0, *RGB)),
    ]
    return c


def main():
    repo = Path(__file__).resolve().parents[2]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "tornado-kernels/src/test/resources/preprocess"
    out.mkdir(parents=True, exist_ok=True)
    names = make_images(out)
    index = []
    for name, image, s in cases(names):
        with Image.open(out / image) as img:
            img.seek(0)
            cropped, tensor, resized = eval_transform(img, s)
        case = {
            "name": name,
            "image": image,
            "spec": s,
            "resized": list(resized),
            # The 8-bit image just before ToTensor, HWC.
            "pixels": cropped.reshape(-1).tolist(),
        }
        # The CHW tensor in float32's shortest round-trip form: exact, and half the size of repr(float).
        floats = ",".join(np.format_float_positional(v, unique=True, trim="-") for v in tensor.reshape(-1))
        text = json.dumps(case, separators=(",", ":"))[:-1] + ',"tensor":[' + floats + "]}"
        (out / f"{name}.json").write_text(text + "\n")
        index.append(name)
    (out / "index.json").write_text(json.dumps({
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "generator": "tools/reference/make_preprocess_fixtures.py",
        "cases": index,
    }, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(index)} cases to {out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
