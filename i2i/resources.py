"""Where the files shipped with i2i live, the same way from a clone, an editable install and a wheel.

The YAML configs are kept in the repository's top-level ``configs/`` folder; ``setup.py`` maps that folder to the
package ``i2i.configs``, so a wheel holds them as ``site-packages/i2i/configs/*.yaml``.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The folder of the shipped configs: ``i2i/configs`` when installed from a wheel, else the clone's ``configs/``."""
    installed = PACKAGE_DIR / "configs"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "configs"
