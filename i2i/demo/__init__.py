"""Web demo: a Starlette app with one page (upload or drop an image, pick a model, see input and output side by side,
download the result) and a REST endpoint ``POST /translate`` (image bytes in, PNG out).

Starlette + uvicorn rather than Gradio: two small pure-Python packages (a few hundred kB, no front-end build, no
pandas/matplotlib/fastapi stack of ~100 MB), which keeps ``pip install "i2i[demo]"`` and the CI's install fast; the
page is one static HTML file (``page.html``) that calls the same REST endpoint as any pipeline.

Endpoints:
    ``GET /``            the page.
    ``GET /models``      ``{"models": [{"id", "label", "direction", "in_channels", "out_channels"}, ...]}``.
    ``POST /translate``  body: the image file's bytes (``Content-Type: image/*`` or ``application/octet-stream``),
                         query ``?model=<id>`` (default: the first model). Returns ``image/png`` of the input's size.
                         Errors are ``{"error": "<one line>"}`` with 400 (not an image), 404 (unknown model), 413
                         (body or image too large), 415 (wrong content type).
"""
from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from i2i.inference import Translator

PAGE = Path(__file__).with_name("page.html")
ACCEPTED_TYPES = ("image/", "application/octet-stream")


@dataclass(frozen=True)
class DemoLimits:
    """Request limits: ``max_bytes`` of an uploaded body and ``max_side`` px of an image's width or height."""

    max_bytes: int = 20 * 1024 * 1024
    max_side: int = 4096


class RequestError(Exception):
    """A bad request: HTTP ``status`` and a one-line message for the JSON body and the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decode_upload(data: bytes, limits: DemoLimits) -> Image.Image:
    """Decode uploaded bytes into an upright PIL image, refusing non-images and images over ``limits.max_side``."""
    if not data:
        raise RequestError(400, "empty upload: send the bytes of an image file")
    try:
        image = Image.open(io.BytesIO(data))  # Reads the header only: the size is known before decoding.
        if max(image.size) > limits.max_side:
            raise RequestError(413, f"image is {image.width} x {image.height} px; this demo takes at most "
                                    f"{limits.max_side} px per side (i2i-demo --max-side)")
        image.load()
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise RequestError(413, f"image has too many pixels; this demo takes at most {limits.max_side} px per side "
                                "(i2i-demo --max-side)") from None
    except UnidentifiedImageError:
        raise RequestError(400, "not an image (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise RequestError(400, f"the image could not be decoded ({err})") from None


async def read_body(request: Request, limits: DemoLimits) -> bytes:
    """The request body, refused with 415 for a non-image content type and 413 past ``limits.max_bytes``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.startswith(ACCEPTED_TYPES):
        raise RequestError(415, f"content type '{content_type or 'none'}' is not an image: send the file's bytes "
                                "with Content-Type image/* or application/octet-stream")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise RequestError(413, f"upload of {int(declared)} bytes is over the limit of {limits.max_bytes} bytes "
                                "(i2i-demo --max-upload-mb)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_bytes:
            raise RequestError(413, f"upload is over the limit of {limits.max_bytes} bytes (i2i-demo --max-upload-mb)")
    return bytes(body)


def model_info(key: str, translator: Translator) -> dict:
    config = translator.config
    direction = config.get("direction") or "AtoB"
    return {"id": key, "label": f"{key} ({direction})", "direction": direction,
            "in_channels": translator.in_channels, "out_channels": translator.out_channels}


def load_models(ckpts: list[str] = (), zoos: list[str] = (), *, name: str | None = None,
                **options: object) -> dict[str, Translator]:
    """Translators by id for the demo: each ``--ckpt`` (a run folder gives one model per exported generator, e.g.
    ``horse2zebra/G_A`` and ``horse2zebra/G_B``, unless ``name`` picks one) and each ``--zoo`` name.

    ``options`` are those of :meth:`Translator.from_pretrained` (device, mode, precision, tile, ...).
    """
    from i2i.export import CONFIG_NAME
    from i2i.hub import looks_like_repo_id

    models: dict[str, Translator] = {}
    for ckpt in ckpts:
        exports = Path(ckpt) / "export"
        generators = [name] if name else [None]
        if name is None and exports.is_dir():
            generators = sorted(p.name for p in exports.iterdir() if (p / CONFIG_NAME).is_file())
        base = ckpt if looks_like_repo_id(ckpt) else Path(ckpt).name
        for generator in generators:
            key = base if generator is None else f"{base}/{generator}"
            models[key] = Translator.from_pretrained(ckpt, name=generator, **options)
    for zoo in zoos:
        models[zoo] = Translator.from_zoo(zoo, **options)
    return models


def create_app(models: dict[str, Translator], *, limits: DemoLimits = DemoLimits()) -> Starlette:
    """The demo app for ``models`` (id -> Translator, the first is the default); serve it with uvicorn."""
    if not models:
        raise ValueError("the demo needs at least one model (--ckpt or --zoo)")
    lock = threading.Lock()  # One translation at a time: the network already uses every core.
    infos = [model_info(key, translator) for key, translator in models.items()]

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.read_text().replace("{{MODELS}}", json.dumps(infos))
                            .replace("{{MAX_BYTES}}", str(limits.max_bytes)))

    async def list_models(_: Request) -> JSONResponse:
        return JSONResponse({"models": infos})

    def run(translator: Translator, image: Image.Image) -> bytes:
        with lock:
            output = translator(image)
        buffer = io.BytesIO()
        output.save(buffer, format="PNG")
        return buffer.getvalue()

    async def translate(request: Request) -> Response:
        try:
            key = request.query_params.get("model") or infos[0]["id"]
            if key not in models:
                raise RequestError(404, f"unknown model '{key}'; available: {', '.join(models)}")
            image = decode_upload(await read_body(request, limits), limits)
            png = await run_in_threadpool(run, models[key], image)
        except RequestError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        except (RuntimeError, ValueError) as err:  # E.g. out of memory: the server keeps serving.
            return JSONResponse({"error": f"translation failed ({str(err).splitlines()[0]})"}, status_code=500)
        return Response(png, media_type="image/png")

    return Starlette(routes=[Route("/", page), Route("/models", list_models),
                             Route("/translate", translate, methods=["POST"])])
