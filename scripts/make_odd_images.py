#!/usr/bin/env python3
"""Pictures in the forms people upload that the engine must still read (checklist P10), written
to tests/fixtures/images/odd/ and committed. Pillow only:

    pip install pillow==13.0.0
    python3 scripts/make_odd_images.py

  cmyk.jpg       a CMYK JPEG (print workflows, some phone exports), Adobe-inverted as Photoshop
                 writes it: left half cyan, right half yellow
  animated.gif   two frames: red, then blue (the engine reads the first)
  animated.webp  the same as an animated WebP
  gray.png       8-bit greyscale with transparency (LA)
  palette.png    a palette PNG (P mode)
  16bit.png      16-bit greyscale
"""

import os

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "images", "odd")


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    w, h = 96, 64
    cmyk = Image.new("CMYK", (w, h), (255, 0, 0, 0))  # cyan
    cmyk.paste(Image.new("CMYK", (w // 2, h), (0, 0, 255, 0)), (w // 2, 0))  # yellow
    cmyk.save(os.path.join(OUT, "cmyk.jpg"), quality=95)

    frames = [Image.new("RGB", (w, h), (220, 20, 20)), Image.new("RGB", (w, h), (20, 20, 220))]
    frames[0].save(os.path.join(OUT, "animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(os.path.join(OUT, "animated.webp"), save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)

    gray = Image.new("LA", (w, h), (128, 200))
    gray.save(os.path.join(OUT, "gray.png"))
    Image.new("RGB", (w, h), (30, 160, 60)).convert("P", palette=Image.Palette.ADAPTIVE).save(os.path.join(OUT, "palette.png"))
    Image.new("I;16", (w, h), 40000).save(os.path.join(OUT, "16bit.png"))


if __name__ == "__main__":
    main()
