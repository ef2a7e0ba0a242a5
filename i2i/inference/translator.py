"""``Translator``: load a generator once, translate PIL images, numpy arrays, tensors or folders of any size."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import nn

from i2i.inference.tiling import translate_padded, translate_tiled
from i2i.pixels import from_uint8, to_uint8
from i2i.runtime import PRECISIONS, autocast, resolve_device

if TYPE_CHECKING:
    from i2i.inference.folder import FolderSummary

MODES = ("eval", "train")
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL convert("L") and i2i.data.io.

ImageT = TypeVar("ImageT", Image.Image, np.ndarray, torch.Tensor)


def set_mode(net: nn.Module, mode: str) -> nn.Module:
    """Put ``net`` in eval mode, or in train mode as the reference's test.py without ``--eval``.

    In train mode dropout is active and batch norm normalises with the statistics of the batch; the stored running
    statistics are left untouched (the reference updates them, which does not change its outputs).
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown mode '{mode}'; valid: {', '.join(MODES)}")
    net.train(mode == "train")
    if mode == "train":
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.track_running_stats = False
    return net


def convert_tensor_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """``(N, C, H, W)`` with C in (1, 3, 4) -> ``channels`` (1 or 3): luma, replication, or alpha dropped."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 4:
        images = images[:, :3]
    if channels == 1 and images.shape[1] == 3:
        weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True)
    if channels == 3 and images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    raise ValueError(f"cannot convert {images.shape[1]}-channel images to the generator's {channels} channels")


def complete_config(config: dict[str, Any], net: nn.Module) -> dict[str, Any]:
    """Fill in in_channels, out_channels and size_multiple from the build kwargs or the network when missing."""
    kwargs = config.get("kwargs") or {}
    return {"in_channels": kwargs.get("in_channels", 3), "out_channels": kwargs.get("out_channels", 3),
            "size_multiple": int(getattr(net, "size_multiple", 1))} | {k: v for k, v in config.items() if v is not None}


class Translator:
    """A loaded generator with everything needed to translate images of any size.

    Images are padded (reflect, or replicate for tiny images) to the generator's size multiple, translated and
    cropped back, so outputs always have the input's size. With ``tile`` set, large images are translated in
    overlapping tiles with feathered seams (see :func:`i2i.inference.tiling.translate_tiled`).

    Example:
        >>> translator = Translator.from_pretrained("runs/horse2zebra/export/G_A")
        >>> zebra = translator(Image.open("horse.jpg"))           # PIL in, PIL out, same size
        >>> translator.translate_folder("photos/", "zebras/")     # -> FolderSummary
    """

    def __init__(self, net: nn.Module, config: dict[str, Any], *, device: str | torch.device = "auto",
                 mode: str = "eval", precision: str = "fp32", tile: int | None = None,
                 tile_overlap: int | None = None) -> None:
        """Args:
            net: The generator, ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` in [-1, 1].
            config: Its description from :func:`i2i.export.load_generator_with_config`.
            device: "auto", "cpu", "cuda", "cuda:1", ...
            mode: "eval" (default, deterministic) or "train" (dropout on and batch statistics, as the reference's
                test.py without ``--eval``; images are then translated one at a time, like the reference).
            precision: "fp32", or "bf16"/"fp16" autocast (meant for GPUs).
            tile: Translate in ``tile`` x ``tile`` px tiles (None: the whole image at once).
            tile_overlap: Minimum tile overlap in px (default a quarter of the tile, at least 64 px).
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision: unknown precision '{precision}'; valid: {', '.join(PRECISIONS)}")
        if tile is not None and tile <= 0:
            raise ValueError(f"tile: must be a positive number of pixels, got {tile}")
        self.device = resolve_device(device)
        if precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("precision: bf16 is not supported by this GPU; use fp16 or fp32")
        self.net = set_mode(net.to(self.device), mode)
        self.config = complete_config(config, net)
        self.mode = mode
        self.precision = precision
        self.tile = tile
        self.tile_overlap = tile_overlap
        self._warned: set[str] = set()

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device = "auto", name: str | None = None,
                        mode: str = "eval", precision: str = "fp32", tile: int | None = None,
                        tile_overlap: int | None = None, revision: str | None = None) -> Translator:
        """Load a generator from an export folder, a run folder, a training state, a reference ``.pth`` file or a
        Hugging Face Hub repo id (``"user/repo"``).

        Args:
            path: Anything :func:`i2i.export.load_generator_with_config` accepts.
            name: Which generator of a run with several (``G_A``/``G_B``).
            revision: Hub revision (branch, tag or commit) of a repo id.
            device, mode, precision, tile, tile_overlap: See :class:`Translator`.

        Raises:
            CheckpointError: The checkpoint cannot be read or is not a generator (one-line message).
        """
        from i2i.export import load_generator_with_config

        net, config = load_generator_with_config(path, name=name, device="cpu", revision=revision)
        config = {**config, "source": f"{path}" + (f" ({name})" if name else "")}
        return cls(net, config, device=device, mode=mode, precision=precision, tile=tile, tile_overlap=tile_overlap)

    @classmethod
    def from_zoo(cls, name: str, *, cache: str | Path | None = None, progress: bool = True,
                 **options: Any) -> Translator:
        """Download (once) and load a pretrained generator of the reference, e.g. ``"horse2zebra"``.

        pix2pix zoo models use batch norm and dropout; pass ``mode="train"`` to get the reference's default test.py
        behaviour. ``options`` are those of :meth:`from_pretrained`.
        """
        from i2i.inference.zoo import fetch

        translator = cls.from_pretrained(fetch(name, cache=cache, progress=progress), **options)
        translator.config["source"] = f"zoo {name}"
        return translator

    def describe(self) -> str:
        """One line naming the model: where it was loaded from, its architecture and direction."""
        details = ", ".join(str(self.config[k]) for k in ("architecture", "direction") if self.config.get(k))
        source = self.config.get("source") or "generator"
        return f"{source} ({details})" if details else str(source)

    @property
    def in_channels(self) -> int:
        return int(self.config["in_channels"])

    @property
    def out_channels(self) -> int:
        return int(self.config["out_channels"])

    @property
    def size_multiple(self) -> int:
        return int(self.config.get("size_multiple") or getattr(self.net, "size_multiple", 1))

    # The core: every input kind ends up here.

    def _run(self, images: torch.Tensor) -> torch.Tensor:
        """The network on ``(N, C, h, w)`` with h, w multiples of the size multiple, on ``self.device``."""
        with torch.inference_mode(), autocast(self.device, self.precision):
            if self.mode == "train" and images.shape[0] > 1:
                return torch.cat([self.net(image[None]).float() for image in images])
            return self.net(images).float()

    def translate_tensor(self, images: torch.Tensor, *, batch_size: int = 1) -> torch.Tensor:
        """Translate ``(N, in_channels, H, W)`` float images in [-1, 1], any H and W.

        Args:
            images: On any device; moved to the translator's device (tiles one batch at a time).
            batch_size: Tiles per network call when tiling.

        Returns:
            ``(N, out_channels, H, W)`` float32 in [-1, 1], on the translator's device (on the CPU when tiling).
        """
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"expected (N, {self.in_channels}, H, W) images, got shape {tuple(images.shape)}")
        images = images.float()
        height, width = images.shape[-2:]
        if self.tile is None or (height <= self.tile and width <= self.tile):
            return translate_padded(self._run, images.to(self.device), self.size_multiple)
        tiled = [translate_tiled(self._run, image[None], size_multiple=self.size_multiple, tile=self.tile,
                                 overlap=self.tile_overlap, batch_size=batch_size, device=self.device)
                 for image in images]
        return torch.cat(tiled)

    def translate_uint8(self, pixels: torch.Tensor, *, batch_size: int = 1) -> torch.Tensor:
        """``(N, H, W, in_channels)`` uint8 -> ``(N, H, W, out_channels)`` uint8 on the CPU (the folder path)."""
        target = self.device if self.tile is None else pixels.device  # Tiling moves one batch of tiles at a time.
        images = from_uint8(pixels.to(target, non_blocking=True).permute(0, 3, 1, 2))
        output = self.translate_tensor(images, batch_size=batch_size)
        return to_uint8(output).permute(0, 2, 3, 1).cpu()

    # Public entry points.

    def __call__(self, image: ImageT) -> ImageT:
        """Translate one image, returned as the same kind of object with the same height and width.

        Args:
            image: A PIL image (any mode; RGBA and palette composited on white, 16-bit scaled), an ``(H, W, C)``
                or ``(H, W)`` uint8 numpy array, or a float tensor ``(C, H, W)`` / ``(N, C, H, W)`` in [-1, 1].

        Returns:
            PIL: mode "RGB" (or "L" for a one-channel generator). numpy: ``(H, W, out_channels)`` uint8, or
            ``(H, W)`` when the input was 2-D and the generator has one output channel. Tensor: same dims, dtype
            and device as the input, ``out_channels`` channels, values in [-1, 1].
        """
        if isinstance(image, Image.Image):
            return self._translate_pil(image)
        if isinstance(image, np.ndarray):
            return self._translate_array(image)
        if isinstance(image, torch.Tensor):
            return self._translate_tensor_like(image)
        raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(image).__name__}")

    def translate_folder(self, src: str | Path, dst: str | Path, **options: Any) -> FolderSummary:
        """Translate every image of ``src`` (a folder, a file or a glob) into ``dst``.

        ``options`` are the keyword arguments of :func:`i2i.inference.folder.translate_folder` (recursive, ext,
        overwrite, batch_size, num_workers, size, html, progress).
        """
        from i2i.inference.folder import translate_folder

        return translate_folder(self, src, dst, **options)

    def warn_channels(self, got: int) -> None:
        """Warn once per translator that ``got``-channel input is converted to the generator's channels."""
        got = 3 if got == 4 else got
        kind = "grayscale" if got == 1 else "color"
        if got == self.in_channels or kind in self._warned:
            return
        self._warned.add(kind)
        target = "grayscale (luma)" if self.in_channels == 1 else "RGB (gray replicated)"
        warnings.warn(f"the generator takes {self.in_channels}-channel input; {kind} images are converted to "
                      f"{target}", UserWarning, stacklevel=3)

    def _translate_tensor_like(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() not in (3, 4) or not image.is_floating_point():
            raise ValueError(f"expected a float (C, H, W) or (N, C, H, W) tensor in [-1, 1], got {image.dtype} "
                             f"of shape {tuple(image.shape)}")
        batch = image if image.dim() == 4 else image[None]
        check_tensor_range(batch)
        self.warn_channels(batch.shape[1])
        output = self.translate_tensor(convert_tensor_channels(batch, self.in_channels))
        output = output.to(device=image.device, dtype=image.dtype)
        return output if image.dim() == 4 else output[0]

    def _translate_array(self, array: np.ndarray) -> np.ndarray:
        from i2i.data.io import convert_channels

        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise ValueError(f"expected a uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, got {array.dtype} "
                             f"of shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"the image array is empty (shape {array.shape}); give at least 1 x 1 px")
        self.warn_channels(1 if array.ndim == 2 else array.shape[2])
        pixels = np.require(convert_channels(array, self.in_channels), requirements=["C", "W"])
        output = self.translate_uint8(torch.from_numpy(pixels)[None])[0].numpy()
        return output[:, :, 0] if array.ndim == 2 and self.out_channels == 1 else output

    def _translate_pil(self, image: Image.Image) -> Image.Image:
        output = self._translate_array(pil_to_array(image))
        return Image.fromarray(output[:, :, 0] if output.shape[2] == 1 else output)  # Mode "L" or "RGB".


def check_tensor_range(images: torch.Tensor, tolerance: float = 1e-3) -> None:
    """Refuse an empty tensor or one with values outside [-1, 1] (e.g. [0, 255] pixels), saying how to convert."""
    if images.numel() == 0:
        raise ValueError(f"the image tensor is empty (shape {tuple(images.shape)}); give at least 1 x 1 px")
    low, high = images.detach().aminmax()
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("the image tensor holds NaN or infinite values; expected values in [-1, 1]")
    if low < -1 - tolerance or high > 1 + tolerance:
        fix = "x / 127.5 - 1 for [0, 255] pixels" if high > 2 else "x * 2 - 1 for [0, 1] values"
        raise ValueError(f"the image tensor holds values in [{low:.4g}, {high:.4g}], but the networks take [-1, 1]; "
                         f"convert it first ({fix}), or pass a uint8 numpy array or PIL image")


def pil_to_array(image: Image.Image) -> np.ndarray:
    """A PIL image of any mode -> ``(H, W, 1|3|4)`` uint8 (16-bit scaled by 255/65535; alpha kept for compositing)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        scaled = np.rint(np.asarray(image).astype(np.float32) * (255.0 / 65535.0))
        pixels = np.clip(scaled, 0, 255).astype(np.uint8)
    elif image.mode == "F":
        pixels = np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    elif image.mode == "1":
        pixels = np.asarray(image.convert("L"))
    elif image.mode in ("L", "RGB", "RGBA"):
        pixels = np.asarray(image)
    elif image.mode in ("P", "PA", "LA", "La", "RGBa"):
        pixels = np.asarray(image.convert("RGBA"))
    else:  # CMYK, YCbCr, LAB, HSV.
        pixels = np.asarray(image.convert("RGB"))
    return pixels[:, :, None] if pixels.ndim == 2 else pixels
