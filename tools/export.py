#!/usr/bin/env python
"""``i2i-export`` from a clone without installing: ``python tools/export.py --help``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.commands.export import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
