"""End-to-end folder translation benchmarks: JPEG files in, JPEG files out.

Two ways to feed the generator are measured on the same folder of generated JPEGs and the same exported generator:

- ``workers``: ``i2i-translate`` (``tools/translate.py``) as a user runs it (PIL decoding in DataLoader worker
  processes, outputs encoded by PIL in writer threads), in a subprocess; its printed summary gives the images/s of
  the translation loop.
- ``device``: a prototype of decoding on the translating device: file bytes read in threads, batches decoded with
  ``torchvision.io.decode_jpeg(device=...)`` (nvJPEG on CUDA), translated, encoded with
  ``torchvision.io.encode_jpeg`` on the same device and written in threads. It is not yet a ``translate.py`` option;
  it is here to measure whether that path is worth adding.
"""
from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from i2i.benchmark.host import child_environment, command
from i2i.models import build_generator, init_weights


def make_jpeg_folder(folder: Path, *, count: int, size: int, seed: int = 0, quality: int = 90) -> Path:
    """Write ``count`` smooth random ``size`` x ``size`` RGB JPEGs (``00000.jpg`` ...) unless they already exist."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) == count:
        return folder
    rng = np.random.default_rng(seed)
    for index in range(count):
        coarse = rng.integers(0, 256, (max(2, size // 16), max(2, size // 16), 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        image.save(folder / f"{index:05d}.jpg", quality=quality)
    return folder


def export_random_generator(folder: Path, *, architecture: str, kwargs: dict[str, Any], seed: int = 0) -> Path:
    """An export folder (config.json + model.safetensors) of a randomly initialised generator."""
    from i2i.export import export_generator

    torch.manual_seed(seed)
    net = build_generator(architecture, **kwargs)
    init_weights(net, scheme="normal", gain=0.02)
    return export_generator(net, folder, architecture=architecture, kwargs=kwargs, direction="AtoB")


def translate_with_tool(export: Path, src: Path, dst: Path, *, device: str, precision: str, batch_size: int,
                        num_workers: int, timeout: float) -> dict[str, Any]:
    """Run ``i2i-translate`` on ``src``; returns images/s of its loop and of the whole command."""
    cmd = [*command("translate"), "--ckpt", str(export), "--input", str(src), "--output",
           str(dst), "--ext", "jpg", "--overwrite", "--quiet", "--device", device, "--precision", precision,
           "--batch-size", str(batch_size), "--num-workers", str(num_workers)]
    tic = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_environment())
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        raise RuntimeError(f"translate.py exited with {proc.returncode}: {proc.stderr.strip()[-300:]}")
    match = re.search(r"translated (\d+),.* in ([\d.]+) s \(([\d.]+) images/s\)", proc.stdout)
    if match is None:
        raise RuntimeError(f"translate.py printed no summary: {proc.stdout.strip()[-300:]}")
    count = int(match.group(1))
    return {"translated": count, "loop_s": float(match.group(2)), "images_per_s": float(match.group(3)),
            "command_s": round(wall, 2), "images_per_s_command": round(count / wall, 1)}


def translate_on_device(export: Path, src: Path, dst: Path, *, device: str, precision: str,
                        batch_size: int) -> dict[str, Any]:
    """The ``device`` path (see the module docstring); all images of ``src`` must share one size."""
    from torchvision.io import decode_jpeg, encode_jpeg

    from i2i.inference import Translator
    from i2i.inference.translator import to_uint8

    translator = Translator.from_pretrained(export, device=device, precision=precision)
    paths = sorted(src.glob("*.jpg"))
    dst.mkdir(parents=True, exist_ok=True)

    def read(path: Path) -> torch.Tensor:
        return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)

    def write(item: tuple[Path, torch.Tensor]) -> None:
        item[0].write_bytes(item[1].numpy().tobytes())

    tic = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
        pending = pool.map(lambda batch: [read(p) for p in batch], batches)
        writes = []
        for batch, data in zip(batches, pending):
            pixels = torch.stack(decode_jpeg(data, device=translator.device))  # (N, 3, H, W) uint8
            output = to_uint8(translator.translate_tensor(pixels.float() / 127.5 - 1.0))
            encoded = [jpeg.cpu() for jpeg in encode_jpeg(list(output), quality=90)]
            writes += [pool.submit(write, (dst / p.name, jpeg)) for p, jpeg in zip(batch, encoded)]
        for future in writes:
            future.result()
    seconds = time.perf_counter() - tic
    return {"translated": len(paths), "loop_s": round(seconds, 3), "images_per_s": round(len(paths) / seconds, 1)}


def run_folder_case(work: Path, *, decode: str, device: str, precision: str, count: int, size: int,
                    architecture: str, kwargs: dict[str, Any], batch_size: int, num_workers: int = 0,
                    timeout: float = 300) -> dict[str, Any]:
    """Generate the folder and the generator under ``work`` (reused between cases) and time one decode path.

    Returns:
        A result row: case ``translate_<decode>``, kind ``translate``, images_per_s of the translation loop (model
        loading and process start excluded; ``images_per_s_command`` includes them for ``workers``), settings.
    """
    if decode not in ("workers", "device"):
        raise ValueError(f"decode: unknown '{decode}'; valid: workers, device")
    src = make_jpeg_folder(work / f"jpeg_{size}px_{count}", count=count, size=size)
    export = work / f"G_{architecture}"
    if not (export / "config.json").is_file():
        export_random_generator(export, architecture=architecture, kwargs=kwargs)
    dst = work / f"out_{decode}"
    if decode == "workers":
        measured = translate_with_tool(export, src, dst, device=device, precision=precision, batch_size=batch_size,
                                       num_workers=num_workers, timeout=timeout)
    else:
        measured = translate_on_device(export, src, dst, device=device, precision=precision, batch_size=batch_size)
    written = len(list(dst.glob("*.jpg")))
    if written != count:
        raise RuntimeError(f"translate_{decode}: wrote {written} of {count} images")
    note = (f"{count} JPEGs of {size} px in and out; decode in {num_workers} DataLoader workers (translate.py; "
            f"{measured['images_per_s_command']} images/s counting its start-up and model loading)"
            if decode == "workers" else f"{count} JPEGs of {size} px; torchvision decode/encode_jpeg on {device} "
                                        "(prototype, not a translate.py option)")
    return {"case": f"translate_{decode}", "kind": "translate", "generator": architecture, "resolution": size,
            "batch": batch_size, "precision": precision, "compile": False, "channels_last": False, "device": device,
            "num_workers": num_workers if decode == "workers" else None, "note": note, **measured}
