"""History of generated images (Shrivastava et al. 2017) that feeds the CycleGAN discriminators."""
from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    """Keeps up to ``size`` generated images; a query returns a batch mixing new and remembered images.

    Each image of a query is returned as is while the pool fills up; once full, with probability 1/2 it is
    swapped with a random remembered image, which is returned instead (the reference's ``ImagePool.query``).
    Randomness comes from torch's global RNG so that a seeded, resumed run repeats exactly.

    Args:
        size: pool capacity; 0 disables the pool.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        """Args: images: (N, C, H, W) detached generated images. Returns: (N, C, H, W)."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()).item() > 0.5:
                index = int(torch.randint(0, self.size, ()).item())
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        stacked = torch.cat(self.images, 0).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stacked}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        images = state["images"]
        self.images = [img.unsqueeze(0).to(device) for img in images] if images.numel() else []
