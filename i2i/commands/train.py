"""Train pix2pix or CycleGAN from a YAML config.

    i2i-train --cfg cyclegan_horse2zebra [section.key=value ...]
    torchrun --nproc_per_node 4 tools/train.py --cfg cyclegan_horse2zebra data.batch_size=4
"""
from __future__ import annotations

import argparse
import sys

from i2i.cli import one_line_warnings, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config file, or a name in configs/ (e.g. pix2pix_facades)")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.max_steps=100")
    args = parser.parse_args(argv)

    def train() -> int:
        from i2i.config import load_config
        from i2i.engine.trainer import Trainer

        trainer = Trainer(load_config(args.cfg, args.overrides))
        try:
            trainer.fit()
        finally:
            trainer.close()
        return 0

    with one_line_warnings():
        return run_cli(train)


if __name__ == "__main__":
    sys.exit(main())
