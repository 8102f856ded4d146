"""Regenerate the screenshots in docs/images/ (shown in docs/reports.md): the quickstart's
report, a failing run's report and a drift report, each opened in headless Chromium.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import open_page  # noqa: E402
from tests.plugin.test_html_report import SUITE  # noqa: E402

IMAGES = ROOT / "docs" / "images"


def pytest_run(directory: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pytest", "--mlgate", "-q", "-p", "no:cacheprovider", *args],
                   cwd=directory, capture_output=True, check=False)


def crop(png: bytes, parts: list[tuple[float, float]]) -> Image.Image:
    """The vertical ``parts`` (top, height in pixels) of the page, stacked."""
    page = Image.open(io.BytesIO(png)).convert("RGB")
    pieces = [page.crop((0, int(top), page.width, int(top + height))) for top, height in parts]
    out = Image.new("RGB", (page.width, sum(p.height for p in pieces)), "white")
    y = 0
    for p in pieces:
        out.paste(p, (0, y))
        y += p.height
    return out


def save(image: Image.Image, name: str) -> None:
    image = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    image.save(IMAGES / name, optimize=True)
    print(f"wrote docs/images/{name} ({(IMAGES / name).stat().st_size // 1024} KiB, {image.size})")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mlgate-shots-"))
    try:
        quick = work / "quickstart"
        shutil.copytree(ROOT / "examples" / "quickstart", quick, ignore=shutil.ignore_patterns(
            "registry", "mlgate-report.*", "__pycache__", ".pytest_cache"))
        pytest_run(quick, "--mlgate-deliver", "--mlgate-html", "report.html")
        view = open_page(quick / "report.html")
        off = view.probe["offsets"]
        save(crop(view.screenshot, [(0, off["gates"][0] + off["gates"][1]), tuple(off["gate-validation"])]),
             "report-quickstart.png")

        failing = work / "failing"
        failing.mkdir()
        (failing / "test_model.py").write_text(SUITE)
        pytest_run(failing, "--mlgate-html", "report.html", "-o", "mlgate_bootstrap=200")
        view = open_page(failing / "report.html")
        off = view.probe["offsets"]
        save(crop(view.screenshot, [(0, off["gates"][0] + off["gates"][1]), tuple(off["gate-validation"])]),
             "report-failing.png")

        batch = quick / "data" / "new_batch.csv"
        import pandas as pd

        frame = pd.read_csv(batch)
        frame["mean radius"] *= 1.4
        frame["mean texture"] += 6
        frame.to_csv(quick / "shifted.csv", index=False)
        subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "drift", "breast-cancer@latest",
                        "shifted.csv", "--html", "drift.html"], cwd=quick, capture_output=True, check=False)
        view = open_page(quick / "drift.html")
        save(crop(view.screenshot, [(0, view.probe["height"])]), "report-drift.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
