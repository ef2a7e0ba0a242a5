#!/usr/bin/env python
"""``i2i-demo`` from a clone without installing: ``python tools/demo.py --help``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.commands.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
