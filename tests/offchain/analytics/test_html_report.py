"""The HTML report is self-contained and opens in headless Chromium without network.

Chromium runs with every network path closed (a dead proxy, no DNS, background
networking off) and `--dump-dom` after a small probe script counts the images that
decoded; a second run takes a screenshot, which must show drawn (non-white) charts.
"""

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from offchain.analytics import MarkPoint, NavPoint, SettledFill, analyze
from offchain.analytics.html import HtmlReport, funding_section, performance_section, quality_section
from offchain.analytics.quality import Trade, market_quality, summarize_book
from tests.constants import ONE, USDC

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
S = 1_000
T0 = 1_767_225_600_000
NO_NETWORK = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
              "--disable-extensions", "--no-first-run"]

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM) and not __import__("os").path.exists(CHROMIUM),
                                reason="chromium is not installed")


def _report() -> HtmlReport:
    fills = [SettledFill(T0 + i * 10 * S, 1, i % 2 == 0, (2_000 + (i % 5)) * USDC, ONE // 10, True, rebate=20_000)
             for i in range(40)]
    marks = [MarkPoint(T0 + i * S, 1, (2_000 * USDC + (i % 17) * 100_000)) for i in range(400)]
    # a pool whose share price moves by a millionth: the chart must not need an offset
    nav = [NavPoint(T0 + i * S, 2_000_000 * USDC + i, 2_000_000 * USDC) for i in range(400)]
    pool = analyze(fills, marks, entity="pool", kind="pool", nav=nav, bar="1s")
    account = analyze(fills, marks, entity="mm", initial_equity=10_000 * USDC, bar="1s")
    samples = [summarize_book(T0 + i * S, {"pool": [(1_999 * USDC, ONE)], "others": [(1_990 * USDC, 3 * ONE)]},
                              {"pool": [(2_001 * USDC + (i % 3) * 10_000, ONE)]}) for i in range(300)]
    trades = [Trade(T0 + i * 7 * S, 2_001 * USDC, ONE // 10, "pool", "others", i % 2 == 0) for i in range(40)]
    q = market_quality(samples, trades, [(m.ts, m.price) for m in marks], horizon_s=5)
    report = HtmlReport("MMX test report", "screenshot test")
    report.add(quality_section("Market quality: market 1", q, samples, trades))
    report.add(performance_section("pool", pool))
    report.add(performance_section("mm", account))
    report.add(funding_section(None))
    return report


PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const p = document.createElement('pre'); p.id = 'probe';
  p.textContent = 'images ' + imgs.length + ' decoded ' + ok;
  document.body.appendChild(p);
});
</script>"""


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw scanlines of an 8-bit RGB(A) PNG (enough for chromium's)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    return width, height, [raw[i * stride:(i + 1) * stride] for i in range(height)]


def test_html_report__self_contained__no_external_references(tmp_path):
    text = _report().render()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing to fetch
    assert text.count("data:image/png;base64,") == 3 + 3 + 3  # quality 3, pool 3, account 3
    assert "Funding figures are not available yet" in text
    assert "1e-" not in text and "n/a (fewer than 30 periods)" not in text  # 399 one-second returns


def test_html_report__opens_in_headless_chromium_without_network__every_chart_decodes(tmp_path):
    path = _report().write(tmp_path / "report.html")
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([CHROMIUM, *NO_NETWORK, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "images 9 decoded 9" in dom

    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *NO_NETWORK, "--window-size=1280,3000", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 3000)
    # Chart strokes are coloured: count rows of the shot that hold non-grey pixels.
    coloured = 0
    for row in rows[::10]:
        px = row[1:]
        step = len(px) // width
        if any(abs(px[i] - px[i + 2]) > 60 for i in range(0, len(px) - 2, step * 4)):
            coloured += 1
    assert coloured > 20
