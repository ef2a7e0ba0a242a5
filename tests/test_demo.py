"""The web demo (i2i-demo): REST ``POST /translate`` over a real uvicorn server, and the page end to end in a real
headless browser, each output compared pixel for pixel with :class:`Translator` on the same file.

Browser set-up (Debian, as root; `.ci/run` does the same and tolerates failure):

    apt-get install -y chromium chromium-driver      # /usr/bin/chromium and /usr/bin/chromedriver
    pip install "i2i[demo,test]"                      # starlette, uvicorn, selenium

The browser test skips, saying why, only when chromium or chromedriver is not installed. Selenium drives Debian's
chromedriver, which matches the installed chromium's version, so nothing is downloaded at run time.
Set ``I2I_DEMO_SCREENSHOT=path.png`` to keep the screenshot the test takes.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from i2i.demo import DemoLimits, create_app, load_models  # noqa: E402
from i2i.inference import Translator  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
CHECKPOINTS = {"tiny6": FIXTURES / "resnet_6blocks_ngf8_instance_dropout" / "latest_net_G.pth",
               "tiny9": FIXTURES / "resnet_9blocks_ngf8_instance" / "latest_net_G_A.pth"}
LIMITS = DemoLimits(max_bytes=300_000, max_side=2048)


@pytest.fixture(scope="module")
def translators() -> dict[str, Translator]:
    return {key: Translator.from_pretrained(path, device="cpu") for key, path in CHECKPOINTS.items()}


@pytest.fixture(scope="module")
def server(translators: dict[str, Translator]) -> str:
    """A real uvicorn server on a free local port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(translators, limits=LIMITS), host="127.0.0.1", port=port, log_level="error")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}/"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    rng = np.random.default_rng(0)
    paths = {"photo": folder / "photo.png", "wide": folder / "wide.png", "text": folder / "notes.txt"}
    Image.fromarray(rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)).save(paths["photo"])
    Image.new("RGB", (20_000, 8), (90, 120, 200)).save(paths["wide"])  # 20,000 px wide, a few kB.
    paths["text"].write_text("not an image\n")
    return paths


def post(url: str, data: bytes, content_type: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def expected_pixels(translator: Translator, path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(translator(image))


def test_rest_translate_and_errors(server: str, translators: dict[str, Translator], images: dict[str, Path]) -> None:
    photo = images["photo"].read_bytes()
    status, kind, body = post(server + "translate?model=tiny9", photo, "image/png")
    assert (status, kind) == (200, "image/png")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(body))), expected_pixels(translators["tiny9"],
                                                                                    images["photo"]))
    refusals = [(post(server + "translate", b"hello", "text/plain"), 415, "content type 'text/plain' is not an image"),
                (post(server + "translate", b"x" * 400_000, "application/octet-stream"), 413,
                 "over the limit of 300000 bytes"),
                (post(server + "translate", images["wide"].read_bytes(), "image/png"), 413,
                 "image is 20000 x 8 px; this demo takes at most 2048 px per side"),
                (post(server + "translate", b"GIF89a broken", "image/gif"), 400, "not an image"),
                (post(server + "translate?model=nope", photo, "image/png"), 404, "unknown model 'nope'")]
    for (status, kind, body), expected_status, message in refusals:
        assert (status, kind) == (expected_status, "application/json")
        assert message in json.loads(body)["error"]
    status, _, body = post(server + "translate", photo, "image/png")  # Default model; the server keeps serving.
    assert status == 200 and Image.open(io.BytesIO(body)).size == (50, 37)
    with urllib.request.urlopen(server + "models") as response:
        assert [m["id"] for m in json.load(response)["models"]] == ["tiny6", "tiny9"]


def test_load_models_one_entry_per_generator(tmp_path: Path) -> None:
    from i2i.publish import save_pretrained

    for name, path in (("G_A", CHECKPOINTS["tiny9"]), ("G_B", CHECKPOINTS["tiny6"])):
        save_pretrained(path, tmp_path / "runs" / "h2z" / "export" / name)
    models = load_models([str(tmp_path / "runs" / "h2z"), str(CHECKPOINTS["tiny6"])], device="cpu")
    assert list(models) == ["h2z/G_A", "h2z/G_B", "latest_net_G.pth"]
    assert list(load_models([str(tmp_path / "runs" / "h2z")], name="G_B", device="cpu")) == ["h2z/G_B"]


def _browser():  # noqa: ANN202 - a selenium WebDriver.
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    binary, driver = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver")
    if not Path(binary).is_file() or driver is None:
        pytest.skip("no headless browser: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1000,700"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


FETCH_OUTPUT = """const done = arguments[arguments.length - 1];
fetch(document.getElementById('output-image').src).then(r => r.arrayBuffer()).then(buffer => {
  let text = ''; for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte); done(btoa(text));
});"""


def upload_and_wait(browser, path: Path, *, expect_error: bool):  # noqa: ANN001, ANN201 - selenium types.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "file").send_keys(str(path))
    message = browser.find_element(By.ID, "message")
    WebDriverWait(browser, 60).until(
        lambda b: (message.get_attribute("class") == "error") if expect_error else b.execute_script(
            "const i = document.getElementById('output-image'); return i.complete && i.naturalWidth > 0"))
    return message.text


def test_page_in_headless_browser(server: str, translators: dict[str, Translator], images: dict[str, Path],
                                  tmp_path: Path) -> None:
    import base64

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = _browser()
    try:
        browser.get(server)
        assert browser.title == "i2i demo"
        Select(browser.find_element(By.ID, "model")).select_by_value("tiny9")
        upload_and_wait(browser, images["photo"], expect_error=False)
        png = base64.b64decode(browser.execute_async_script(FETCH_OUTPUT))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))),
                              expected_pixels(translators["tiny9"], images["photo"]))
        download = browser.find_element(By.ID, "download")
        assert download.is_displayed() and download.get_attribute("download") == "photo_i2i.png"
        screenshot = tmp_path / "demo.png"
        browser.save_screenshot(str(screenshot))
        assert Image.open(screenshot).size[0] > 0
        if os.environ.get("I2I_DEMO_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["I2I_DEMO_SCREENSHOT"])

        assert "content type 'text/plain' is not an image" in upload_and_wait(browser, images["text"],
                                                                            expect_error=True)
        assert "20000 x 8 px" in upload_and_wait(browser, images["wide"], expect_error=True)
        upload_and_wait(browser, images["photo"], expect_error=False)  # The server keeps serving.
        assert browser.find_element(By.ID, "message").get_attribute("class") == ""
    finally:
        browser.quit()
