#!/usr/bin/env python
"""``i2i-train`` from a clone without installing: ``python tools/train.py --help``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.commands.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
