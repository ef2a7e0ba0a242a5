"""Score translated images: FID/KID between two folders and/or L1/PSNR/SSIM between pairs matched by file name.

Examples:
    i2i-evaluate --real data/testB --fake results/fakeB --json scores.json
    i2i-evaluate --target data/testB --pred results/fakeB --allow-missing
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from i2i.cli import one_line_warnings, run_cli
from i2i.fileio import check_writable, write_bytes_atomic
from i2i.metrics import fid_kid, paired_metrics

COMPARABLE = {"inception": "TF-Inception 2015-12-05 pool3, 2048-d; comparable with TTUR/clean-fid legacy_tensorflow",
              "random": "random 64-d test features: NOT comparable with published numbers"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, help="folder of real images (FID/KID)")
    parser.add_argument("--fake", type=Path, help="folder of generated images (FID/KID)")
    parser.add_argument("--target", type=Path, help="folder of ground-truth images (paired metrics)")
    parser.add_argument("--pred", type=Path, help="folder of predictions named like their targets (paired metrics)")
    parser.add_argument("--features", choices=["inception", "random", "tiny"], default="inception")
    parser.add_argument("--inception-weights", type=Path, help="TorchScript Inception file (default: fid-helper's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--allow-missing", action="store_true", help="skip names present on one side only")
    parser.add_argument("--json", type=Path, help="write the scores to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if (args.real is None) != (args.fake is None) or (args.target is None) != (args.pred is None):
        parser.error("give --real with --fake, and --target with --pred")
    if args.real is None and args.target is None:
        parser.error("nothing to do: give --real/--fake and/or --target/--pred")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with one_line_warnings():
        return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    if args.json is not None:
        check_writable(args.json, "--json")  # before minutes of computing
    results: dict[str, dict] = {}
    if args.real is not None:
        scores = fid_kid(args.real, args.fake, features=args.features, weights=args.inception_weights,
                         device=args.device, batch_size=args.batch_size, kid_subset_size=args.kid_subset_size,
                         kid_subsets=args.kid_subsets, progress=not args.quiet)
        results["fid_kid"] = {**scores, "comparable": scores["features"] == "inception",
                              "real": str(args.real), "fake": str(args.fake)}
    if args.target is not None:
        scores = paired_metrics(args.target, args.pred, allow_missing=args.allow_missing, progress=not args.quiet)
        results["paired"] = {**scores, "target": str(args.target), "pred": str(args.pred)}
    print(summary(results), flush=True)  # the scores are shown even if writing the JSON fails
    if args.json is not None:
        write_bytes_atomic(args.json, (json.dumps(results, indent=2) + "\n").encode())
    return 0


def summary(results: dict[str, dict]) -> str:
    lines = []
    if "fid_kid" in results:
        r = results["fid_kid"]
        lines += [f"FID/KID  {r['real']} ({r['n_real']} images) vs {r['fake']} ({r['n_fake']} images)",
                  f"  features  {COMPARABLE.get(r['features'], r['features'])}",
                  f"  FID       {r['fid']:.4f}",
                  f"  KID       {r['kid_mean']:.6f} ± {r['kid_std']:.6f}"]
    if "paired" in results:
        r = results["paired"]
        lines += [f"Paired   {r['target']} vs {r['pred']} ({r['n']} pairs, {r['n_skipped']} skipped)",
                  f"  L1 [0,1]  {r['l1']:.4f}", f"  PSNR      {r['psnr']:.3f} dB", f"  SSIM      {r['ssim']:.4f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
