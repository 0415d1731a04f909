"""Every figure (*.svg) under a folder parses as XML (Python's expat, strict),
renders with a real SVG renderer (rsvg-convert, librsvg) to a PNG that is not
blank, and carries its text: each panel figure has text elements with numbers
(tick labels) and words (titles, axis labels); each PDF-able figure converts.

  check_figures.py DIR MIN_FIGURES [--pdf]

Prints one line per figure and "ok: N figures ..." at the end; exits 1 naming
the first figure that fails.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(path, pdf):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path} is not well-formed XML: {e}")
    if root.tag != SVG + "svg":
        fail(f"{path}: the root element is {root.tag}, not svg")
    texts = ["".join(t.itertext()).strip() for t in root.iter(SVG + "text")]
    has_image = any(True for _ in root.iter(SVG + "image"))
    if not has_image:
        if not any(re.fullmatch(r"[-+−]?[0-9.]+(e[-+]?[0-9]+)?", t) for t in texts):
            fail(f"{path} has no numeric tick label")
        if not any(re.search(r"[A-Za-z]{3}", t) for t in texts):
            fail(f"{path} has no title or axis label")
    png = path[:-4] + ".check.png"
    r = subprocess.run(["rsvg-convert", "-f", "png", "-o", png, path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"rsvg-convert could not render {path}: {r.stderr.strip()}")
    img = Image.open(png).convert("RGB")
    w, h = img.size
    pixels = list(img.getdata())
    os.remove(png)
    ink = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    colours = len(set(pixels))
    if ink < 0.01 or colours < 3:
        fail(f"{path} renders blank ({w}x{h}, {100 * ink:.2f}% non-white pixels, {colours} colours)")
    if pdf:
        out = path[:-4] + ".check.pdf"
        r = subprocess.run(["rsvg-convert", "-f", "pdf", "-o", out, path], capture_output=True, text=True)
        if r.returncode != 0 or os.path.getsize(out) < 500:
            fail(f"rsvg-convert could not make a PDF of {path}: {r.stderr.strip()}")
        os.remove(out)
    print(f"  {os.path.relpath(path)}: {w}x{h} px, {100 * ink:.1f}% ink, {colours} colours, {len(texts)} text elements")


def main():
    folder, minimum = sys.argv[1], int(sys.argv[2])
    pdf = "--pdf" in sys.argv[3:]
    figures = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                     if f.endswith(".svg") and "/cache/" not in d)
    if len(figures) < minimum:
        fail(f"{len(figures)} figures under {folder}, expected at least {minimum}: {figures}")
    for f in figures:
        check(f, pdf)
    print(f"ok: {len(figures)} figures parse as XML and render (rsvg-convert) to non-blank PNGs"
          + (" and PDFs" if pdf else ""))


if __name__ == "__main__":
    main()
