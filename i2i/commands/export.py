"""Export a generator to ONNX, a torch.export program (.pt2) or TorchScript, and check it against PyTorch; or
write it as a Hugging Face Hub-ready folder with a model card and push it.

    i2i-export --ckpt runs/horse2zebra --name G_A --format onnx --output horse2zebra.onnx
    i2i-export --zoo horse2zebra --format pt2 --output horse2zebra.pt2
    i2i-export --ckpt runs/facades --format hub --output hub/facades      # look at hub/facades/README.md
    i2i-export --ckpt runs/facades --push-to-hub user/facades-pix2pix     # after `hf auth login`

The exported graph takes (N, C, H, W) float32 in [-1, 1] with dynamic N, H, W. ONNX and TorchScript graphs take any
H and W (padded inside the graph); a pt2 program needs, and checks, H and W that are multiples of the generator's size
multiple (4 for ResNets, 2**num_downs for U-Nets), which is printed (and stored in ONNX metadata).
"""
from __future__ import annotations

import argparse
import sys

from i2i.cli import run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", help="export folder, run folder, training state .pt or reference .pth file")
    source.add_argument("--zoo", help="reference zoo model, e.g. horse2zebra or pix2pix/edges2shoes")
    parser.add_argument("--name", help="generator of a run with several: G_A or G_B")
    parser.add_argument("--format", choices=("onnx", "pt2", "torchscript", "hub"),
                        help="onnx; pt2 (torch.export, recommended for PyTorch); torchscript (deprecated, LibTorch); "
                             "hub: a Hugging Face Hub-ready folder (config.json, model.safetensors, README.md card)")
    parser.add_argument("--output", help="file to write (a folder for --format hub)")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the hub folder to this Hub repo (user/name)")
    parser.add_argument("--private", action="store_true", help="create the --push-to-hub repo as private")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    parser.add_argument("--no-check", action="store_true", help="skip the comparison with PyTorch")
    args = parser.parse_args(argv)
    args.format = args.format or ("hub" if args.push_to_hub else None)
    if args.format is None or (args.output is None and not args.push_to_hub):
        parser.error("give --format and --output (or --push-to-hub REPO)")
    if args.push_to_hub and args.format != "hub":
        parser.error("--push-to-hub uploads a hub folder: use it with --format hub (the default with it)")

    def export() -> int:
        if args.format == "hub":
            return export_hub(args)
        from i2i.export import load_generator_with_config
        from i2i.fileio import check_writable
        from i2i.inference.export_formats import TOLERANCE, export_model
        from i2i.inference.zoo import fetch

        check_writable(args.output, "--output")  # before loading or tracing anything
        path = fetch(args.zoo, progress=True) if args.zoo else args.ckpt
        net, config = load_generator_with_config(path, name=args.name)
        from i2i.inference.translator import complete_config

        config = complete_config(config, net)
        report = export_model(net, config, args.output, args.format, opset=args.opset, check=not args.no_check)
        sizes = (f"H and W multiples of {config['size_multiple']}" if args.format == "pt2" else
                 f"any H and W (padded inside the graph to multiples of {config['size_multiple']})")
        print(f"wrote {report.path} ({args.format}; input (N, {config['in_channels']}, H, W) in [-1, 1], {sizes})")
        if report.max_abs_diff is None:
            print(report.note, file=sys.stderr)
            return 0
        for shape, diff in report.max_abs_diff.items():
            print(f"check {tuple(shape)}: max |exported - PyTorch| = {diff:.2e}")
        if not report.ok:
            print(f"error: the exported model differs from PyTorch by more than {TOLERANCE[args.format]:.0e}",
                  file=sys.stderr)
            return 1
        return 0

    return run_cli(export)


def export_hub(args: argparse.Namespace) -> int:
    """Write the Hub-ready folder (to --output, else a temporary folder) and push it when --push-to-hub is given."""
    import tempfile

    from i2i.hub import push_to_hub
    from i2i.publish import save_pretrained
    from i2i.inference.zoo import fetch

    source = fetch(args.zoo, progress=True) if args.zoo else args.ckpt
    with tempfile.TemporaryDirectory() as scratch:
        folder = save_pretrained(source, args.output or scratch, name=args.name, repo_id=args.push_to_hub)
        print(f"wrote {folder} (config.json, model.safetensors, README.md)")
        if args.push_to_hub:
            print(f"pushed to {args.push_to_hub}: {push_to_hub(folder, args.push_to_hub, private=args.private)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
