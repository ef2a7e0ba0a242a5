"""Translate images with a trained generator or a pretrained model of the reference's zoo.

    i2i-translate --ckpt runs/horse2zebra --name G_A --input photos/ --output zebras/
    i2i-translate --zoo horse2zebra --input "photos/*.jpg" --output zebras/ --html
    i2i-translate --zoo pix2pix/facades_label2photo --mode train --input labels/ --output facades/

Outputs keep the inputs' relative paths, names and sizes (as PNG unless --ext jpg). Existing outputs are skipped
unless --overwrite. Exit code: 0 all translated, 1 some images failed (listed), 2 bad arguments or checkpoint.
"""
from __future__ import annotations

import argparse
import sys

from i2i.cli import one_line_warnings, run_cli


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", help="export folder, run folder, training state .pt or reference .pth file")
    source.add_argument("--zoo", help="reference zoo model, e.g. horse2zebra, cyclegan/map2sat, pix2pix/edges2shoes")
    parser.add_argument("--name", help="generator of a run with several: G_A or G_B")
    parser.add_argument("--input", required=True, help="image folder, image file or quoted glob ('photos/*.jpg')")
    parser.add_argument("--output", required=True, help="output folder (not the input folder)")
    parser.add_argument("--recursive", action="store_true", help="include sub-folders (and ** in globs)")
    parser.add_argument("--ext", choices=("png", "jpg"), default="png", help="output format (default png)")
    parser.add_argument("--overwrite", action="store_true", help="translate again images whose output exists")
    parser.add_argument("--batch-size", type=int, default=4, help="images of equal size per batch (default 4)")
    parser.add_argument("--num-workers", type=int, default=2, help="decoding worker processes (default 2)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="fp32 (default) or bf16/fp16 autocast (GPU)")
    parser.add_argument("--mode", choices=("eval", "train"), default="eval",
                        help="eval (default, deterministic) or train: dropout and batch statistics on, as the "
                             "reference's test.py without --eval")
    parser.add_argument("--size", type=int, help="translate at SIZE x SIZE px like the reference's test.py, then "
                                                 "resize back to the input size (default: native size)")
    parser.add_argument("--tile", type=int, help="translate in TILE x TILE px overlapping tiles (very large images)")
    parser.add_argument("--tile-overlap", type=int, help="minimum tile overlap in px (default TILE/4, >= 64)")
    parser.add_argument("--html", action="store_true", help="write OUTPUT/index.html with inputs and outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def translate() -> int:
        from tqdm import tqdm

        from i2i.fileio import check_writable
        from i2i.inference import Translator

        check_writable(args.output, "--output", folder=True)  # before loading the model
        options = {"device": args.device, "mode": args.mode, "precision": args.precision, "tile": args.tile,
                   "tile_overlap": args.tile_overlap}
        translator = (Translator.from_zoo(args.zoo, progress=not args.quiet, **options) if args.zoo
                      else Translator.from_pretrained(args.ckpt, name=args.name, **options))
        with one_line_warnings(lambda text: tqdm.write(text, file=sys.stderr)):
            summary = translator.translate_folder(
                args.input, args.output, recursive=args.recursive, ext=args.ext, overwrite=args.overwrite,
                batch_size=args.batch_size, num_workers=args.num_workers, size=args.size, html=args.html,
                progress=not args.quiet, on_failure=lambda _, reason: tqdm.write(f"failed: {reason}", file=sys.stderr))
        print(summary)
        if summary.html:
            print(f"side by side: {summary.html}")
        return 1 if summary.failed else 0

    return run_cli(translate)


if __name__ == "__main__":
    sys.exit(main())
