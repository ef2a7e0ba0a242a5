"""Serve a web demo of trained or pretrained generators: a page to upload or drop an image and a REST endpoint.

    i2i-demo --ckpt runs/horse2zebra                    # a run: one entry per generator (G_A, G_B)
    i2i-demo --zoo horse2zebra --zoo zebra2horse --port 8080
    curl -X POST -H "Content-Type: image/jpeg" --data-binary @horse.jpg "http://127.0.0.1:7860/translate" -o out.png

Needs the demo extra: pip install "i2i[demo]" (Starlette and uvicorn).
"""
from __future__ import annotations

import argparse
import sys

from i2i.cli import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", action="append", default=[], help="export folder, run folder, state, .pth file "
                                                                    "or Hub repo id (repeat for several)")
    parser.add_argument("--zoo", action="append", default=[], help="reference zoo model (repeat for several)")
    parser.add_argument("--name", help="only this generator of a run (G_A or G_B)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    parser.add_argument("--mode", choices=("eval", "train"), default="eval", help="see i2i-translate --help")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest request body (default 20 MB)")
    parser.add_argument("--max-side", type=int, default=4096, help="largest image width or height (default 4096)")
    args = parser.parse_args(argv)
    if not args.ckpt and not args.zoo:
        parser.error("give at least one --ckpt or --zoo")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def demo() -> int:
        try:
            import uvicorn

            from i2i.demo import DemoLimits, create_app, load_models
        except ImportError as err:
            raise RuntimeError(f"the demo needs {err.name}: pip install \"i2i[demo]\"") from None
        models = load_models(args.ckpt, args.zoo, name=args.name, device=args.device, mode=args.mode)
        limits = DemoLimits(max_bytes=int(args.max_upload_mb * 1024 * 1024), max_side=args.max_side)
        print(f"serving {', '.join(models)} on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
        uvicorn.run(create_app(models, limits=limits), host=args.host, port=args.port, log_level="warning")
        return 0

    return run_cli(demo)


if __name__ == "__main__":
    sys.exit(main())
