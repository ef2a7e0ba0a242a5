"""Combine paired images from two folders into pix2pix A|B side-by-side images.

Usage:
    python datasets/combine_A_and_B.py --fold_A path/A --fold_B path/B --fold_AB path/AB

``fold_A`` and ``fold_B`` hold the same sub-folders (e.g. ``train``, ``val``, ``test``; or images directly); each
image ``fold_A/<split>/x.jpg`` is joined with ``fold_B/<split>/x.jpg`` into ``fold_AB/<split>/x.jpg``. With
``--use_AB``, names look like ``x_A.jpg`` / ``x_B.jpg`` and the output is ``x.jpg``. Names present on one side only
and pairs of different sizes are reported and skipped. Files are written atomically.
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from i2i.data.io import list_images, load_image, save_image


@dataclass
class CombineReport:
    """What happened to one split."""

    written: int = 0
    missing_in_b: list[str] = field(default_factory=list)
    missing_in_a: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)

    def summary(self, split: str) -> str:
        def names(items: list[str]) -> str:
            return f" ({', '.join(items[:5])}{', ...' if len(items) > 5 else ''})" if items else ""

        return (f"{split or '.'}: wrote {self.written} pairs; "
                f"{len(self.missing_in_b)} only in A{names(self.missing_in_b)}; "
                f"{len(self.missing_in_a)} only in B{names(self.missing_in_a)}; "
                f"{len(self.size_mismatch)} size mismatches{names(self.size_mismatch)}")


def combine_pair(path_a: Path, path_b: Path, path_ab: Path) -> bool:
    """Write A|B to ``path_ab``; False (nothing written) when A and B differ in size."""
    image_a, image_b = load_image(path_a, 3), load_image(path_b, 3)
    if image_a.shape != image_b.shape:
        return False
    save_image(path_ab, np.concatenate([image_a, image_b], axis=1))
    return True


def _b_name(name_a: str, use_ab: bool) -> str:
    return name_a.replace("_A.", "_B.") if use_ab else name_a


def combine_folder(folder_a: Path, folder_b: Path, folder_ab: Path, *, num_imgs: int | None = None,
                   use_ab: bool = False, workers: int = 0) -> CombineReport:
    """Combine the images of one split (non-recursive); see the module docstring."""
    names_a = [p.name for p in list_images(folder_a).paths if not use_ab or "_A." in p.name][:num_imgs]
    names_b = {p.name for p in list_images(folder_b).paths}
    report = CombineReport(missing_in_b=[n for n in names_a if _b_name(n, use_ab) not in names_b])
    wanted_b = {_b_name(n, use_ab) for n in names_a}
    if num_imgs is None:
        report.missing_in_a = sorted(n for n in names_b if (not use_ab or "_B." in n) and n not in wanted_b)
    jobs = [(folder_a / n, folder_b / _b_name(n, use_ab), folder_ab / (n.replace("_A.", ".") if use_ab else n))
            for n in names_a if _b_name(n, use_ab) in names_b]
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda job: combine_pair(*job), jobs))
    report.written = sum(results)
    report.size_mismatch = [job[0].name for job, ok in zip(jobs, results) if not ok]
    return report


def combine_A_and_B(fold_A: str | Path, fold_B: str | Path, fold_AB: str | Path, *, num_imgs: int | None = None,
                    use_AB: bool = False, workers: int = 0) -> dict[str, CombineReport]:
    """Combine every split (sub-folder of ``fold_A`` also in ``fold_B``; or the folders themselves).

    Returns:
        A report per split name ('' when the images sit directly in the folders).

    Raises:
        FileNotFoundError: ``fold_A`` or ``fold_B`` does not exist, or they share no split.
    """
    fold_A, fold_B, fold_AB = Path(fold_A), Path(fold_B), Path(fold_AB)
    for name, folder in (("--fold_A", fold_A), ("--fold_B", fold_B)):
        if not folder.is_dir():
            raise FileNotFoundError(f"{name}: folder '{folder}' does not exist")
    splits = sorted(p.name for p in fold_A.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not splits:
        splits = [""]
    common = [s for s in splits if (fold_B / s).is_dir()]
    if not common:
        raise FileNotFoundError(f"--fold_B: '{fold_B}' has none of the sub-folders of '{fold_A}': {', '.join(splits)}")
    return {split: combine_folder(fold_A / split, fold_B / split, fold_AB / split, num_imgs=num_imgs, use_ab=use_AB,
                                  workers=workers) for split in common}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Combine paired images into pix2pix A|B images.")
    parser.add_argument("--fold_A", required=True, help="input folder of A images (with train/val/test sub-folders)")
    parser.add_argument("--fold_B", required=True, help="input folder of B images (same layout and names)")
    parser.add_argument("--fold_AB", required=True, help="output folder")
    parser.add_argument("--num_imgs", type=int, default=None, help="at most this many images per split")
    parser.add_argument("--use_AB", action="store_true", help="names are x_A.ext / x_B.ext; output x.ext")
    parser.add_argument("--workers", type=int, default=0, help="threads (default: up to 8)")
    args = parser.parse_args(argv)
    try:
        reports = combine_A_and_B(args.fold_A, args.fold_B, args.fold_AB, num_imgs=args.num_imgs,
                                  use_AB=args.use_AB, workers=args.workers)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for split, report in reports.items():
        print(report.summary(split))
    return 0 if any(r.written for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
