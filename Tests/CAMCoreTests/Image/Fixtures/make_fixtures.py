#!/usr/bin/env python3
"""Makes the small reference fixtures for SwiftCAM's image tests (CAMCoreTests/Image).

Needs numpy, opencv-python-headless and pillow (the versions used are written to
versions.json). Run from anywhere:  python3 make_fixtures.py
It rewrites every fixture file in this folder; the tests never need Python.
With --swift it instead prints the colormap tables for Sources/.../Image/Colormap.swift.
"""
import io
import json
import os
import sys

import cv2
import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240607)

COLORMAPS = [("jet", cv2.COLORMAP_JET), ("viridis", cv2.COLORMAP_VIRIDIS),
             ("inferno", cv2.COLORMAP_INFERNO), ("turbo", cv2.COLORMAP_TURBO)]


def colormap_tables():
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return np.stack([cv2.applyColorMap(ramp, code)[:, 0, ::-1] for _, code in COLORMAPS])  # RGB


def show_cam_on_image(img, mask, use_rgb=False, colormap=cv2.COLORMAP_JET, image_weight=0.5):
    """pytorch-grad-cam 1.5.x pytorch_grad_cam/utils/image.py, unchanged."""
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), colormap)
    if use_rgb:
        heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heatmap = np.float32(heatmap) / 255
    if np.max(img) > 1:
        raise Exception("The input image should np.float32 in the range [0, 1]")
    if image_weight < 0 or image_weight > 1:
        raise Exception(f"image_weight should be in the range [0, 1]. Got: {image_weight}")
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


def save(name, array):
    np.save(os.path.join(HERE, name), np.ascontiguousarray(array))


def write_swift_tables():
    tables = colormap_tables()
    for (name, _), table in zip(COLORMAPS, tables):
        flat = table.reshape(-1).tolist()
        print(f"    static let {name}: [UInt8] = [")
        for i in range(0, len(flat), 24):
            print("        " + ", ".join(str(v) for v in flat[i:i + 24]) + ",")
        print("    ]")


def main():
    # 1. Colormaps, RGB order, (4, 256, 3) uint8: jet, viridis, inferno, turbo.
    save("colormaps_rgb.npy", colormap_tables())

    # 2. cv2.resize INTER_LINEAR on uint8 RGB (source 22 wide, 18 high).
    src = rng.integers(0, 256, size=(18, 22, 3), dtype=np.uint8)
    src[0, :5] = 255  # saturated and black runs exercise the fixed-point edges
    src[-1, -5:] = 0
    save("resize_src_u8.npy", src)
    u8_cases = [(11, 9), (40, 31), (7, 5), (22, 40), (5, 60), (1, 1), (3, 18)]
    for w, h in u8_cases:
        save(f"cv2_linear_u8_{w}x{h}.npy", cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR))
    thin = rng.integers(0, 256, size=(5, 1, 3), dtype=np.uint8)
    save("resize_thin_u8.npy", thin)
    save("cv2_linear_thin_4x10.npy", cv2.resize(thin, (4, 10), interpolation=cv2.INTER_LINEAR))

    # 3. cv2.resize INTER_LINEAR on float32 single-channel maps.
    fsrc = rng.standard_normal((7, 7)).astype(np.float32)
    save("resize_src_f32_7x7.npy", fsrc)
    for w, h in [(30, 23), (5, 3), (64, 6), (7, 30)]:
        save(f"cv2_linear_f32_7x7_to_{w}x{h}.npy", cv2.resize(fsrc, (w, h), interpolation=cv2.INTER_LINEAR))
    fsrc2 = rng.standard_normal((10, 22)).astype(np.float32)  # 22 wide, 10 high: halves to 11x5
    save("resize_src_f32_22x10.npy", fsrc2)
    for w, h in [(11, 5), (9, 4), (44, 20)]:
        save(f"cv2_linear_f32_22x10_to_{w}x{h}.npy", cv2.resize(fsrc2, (w, h), interpolation=cv2.INTER_LINEAR))

    # 4. PIL Image.resize BICUBIC on the same uint8 RGB source.
    pil_src = Image.fromarray(src, "RGB")
    for w, h in [(40, 31), (7, 5), (13, 9), (22, 40), (3, 50), (11, 9), (9, 18)]:
        save(f"pil_bicubic_{w}x{h}.npy", np.asarray(pil_src.resize((w, h), Image.BICUBIC)))

    # 5. Tiny encoded files and what PIL's open().convert('RGB') makes of them.
    expected = {}
    files = {}
    base = rng.integers(0, 256, size=(7, 13, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(7, 13), dtype=np.uint8)
    alpha = rng.integers(0, 256, size=(7, 13), dtype=np.uint8)
    alpha[0, 0] = 0
    files["rgb.png"] = Image.fromarray(base, "RGB")
    files["grey.png"] = Image.fromarray(grey, "L")
    files["rgba.png"] = Image.fromarray(np.dstack([base, alpha]), "RGBA")
    files["grey_alpha.png"] = Image.fromarray(np.dstack([grey, alpha]), "LA")
    files["palette.png"] = Image.fromarray(base, "RGB").quantize(colors=16)
    files["bilevel.png"] = Image.fromarray(grey > 127)
    for name, im in files.items():
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=False)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(buf.getvalue())
    # 16-bit RGB PNG and an interlaced one, written by OpenCV (PIL cannot write 16-bit RGB).
    rgb16 = rng.integers(0, 65536, size=(5, 6, 3), dtype=np.uint16)
    cv2.imwrite(os.path.join(HERE, "rgb16.png"), rgb16[:, :, ::-1])
    # JPEGs: 4:2:0 colour, greyscale, and one tagged with EXIF orientation 6 (rotate 90° CW).
    smooth = cv2.GaussianBlur(rng.integers(0, 256, size=(20, 28, 3), dtype=np.uint8), (5, 5), 0)
    Image.fromarray(smooth, "RGB").save(os.path.join(HERE, "colour420.jpg"), quality=90, subsampling=2)
    Image.fromarray(cv2.GaussianBlur(grey, (3, 3), 0), "L").save(os.path.join(HERE, "grey.jpg"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth, "RGB").save(os.path.join(HERE, "exif_rotate.jpg"), quality=90, exif=exif)
    decoded = {}
    for name in sorted(os.listdir(HERE)):
        if name.endswith((".png", ".jpg")):
            pil = np.asarray(Image.open(os.path.join(HERE, name)).convert("RGB"))
            cv = cv2.imread(os.path.join(HERE, name), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[:, :, ::-1]
            if name == "exif_rotate.jpg":  # same pixels as colour420.jpg: PIL does not rotate
                assert np.array_equal(pil, np.asarray(Image.open(os.path.join(HERE, "colour420.jpg")).convert("RGB")))
            else:
                save(f"decoded_{name.replace('.', '_')}.npy", pil)
            decoded[name] = {"shape": list(pil.shape),
                             "pil_vs_cv2_max_abs_diff": int(np.abs(pil.astype(int) - cv.astype(int)).max())
                             if pil.shape == cv.shape else "shape differs"}
    expected["decoded"] = decoded

    # 6. show_cam_on_image (use_rgb=True) on a small picture, two image weights.
    img = rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)
    mask = rng.random((9, 11), dtype=np.float32)
    mask[0, 0], mask[0, 1], mask[0, 2] = 0.0, 1.0, np.float32(0.5)
    save("overlay_img.npy", img)
    save("overlay_mask.npy", mask)
    for weight, tag in [(0.5, "w50"), (0.3, "w30"), (1.0, "w100")]:
        save(f"overlay_{tag}.npy", show_cam_on_image(img / 255, mask, use_rgb=True, image_weight=weight))
    save("overlay_viridis_w50.npy", show_cam_on_image(img / 255, mask, use_rgb=True,
                                                      colormap=cv2.COLORMAP_VIRIDIS, image_weight=0.5))

    # 7. Normalisation: torchvision-style (float32 pixel / 255 - mean) / std, BGR fed order.
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    x = (img.astype(np.float32) / np.float32(255) - mean) / std
    save("normalized_unit_rgb.npy", x.transpose(2, 0, 1)[None])
    xb = (img[:, :, ::-1].astype(np.float32) / np.float32(255) - mean[::-1]) / std[::-1]
    save("normalized_unit_bgr.npy", xb.transpose(2, 0, 1)[None])

    # 8. Float maps one pixel wide or high (OpenCV 5 takes its generic path for those).
    col = rng.standard_normal((12, 1)).astype(np.float32)
    row = rng.standard_normal((1, 16)).astype(np.float32)
    save("resize_src_f32_1x12.npy", col)
    save("cv2_linear_f32_1x12_to_44x15.npy", cv2.resize(col, (44, 15), interpolation=cv2.INTER_LINEAR))
    save("resize_src_f32_16x1.npy", row)
    save("cv2_linear_f32_16x1_to_48x2.npy", cv2.resize(row, (48, 2), interpolation=cv2.INTER_LINEAR))

    expected["versions"] = {"numpy": np.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__}
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if "--swift" in sys.argv:
        write_swift_tables()
    else:
        main()
