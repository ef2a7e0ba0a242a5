"""Hugging Face Hub: resolve repo ids to local snapshots (for :func:`i2i.load_generator` and
``Translator.from_pretrained``) and push Hub-ready folders (written by :func:`i2i.publish.save_pretrained`).

A Hub model repo of i2i holds the export folder's two files, ``config.json`` and ``model.safetensors``, and a
generated model card ``README.md``. Downloads go through ``huggingface_hub`` (its cache, ``revision=``, resumable
and checked transfers); ``HF_HUB_OFFLINE=1`` and ``HF_HUB_CACHE`` are read when a model is loaded, so they also work
when set after import.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from i2i.checkpoint import CheckpointError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_FILES = ["config.json", "model.safetensors", "README.md"]


def looks_like_repo_id(source: str | Path) -> bool:
    """True for ``user/repo`` strings that are not an existing local path (a local path always wins)."""
    text = str(source)
    return bool(REPO_ID.match(text)) and not Path(text).exists() and ".." not in text


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def download(repo_id: str, *, revision: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """The local snapshot folder of a Hub model repo (``config.json`` + ``model.safetensors``), downloaded once.

    Raises:
        CheckpointError: One line naming the repo id: it does not exist, the revision does not, or it is not cached
            while ``HF_HUB_OFFLINE`` is set (or the Hub cannot be reached).
    """
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (HFValidationError, HfHubHTTPError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError, RevisionNotFoundError)
    except ImportError:
        raise CheckpointError(f"{repo_id}: no such file or folder; loading it from the Hugging Face Hub needs "
                              "huggingface_hub (pip install huggingface_hub)") from None
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    try:
        folder = snapshot_download(repo_id, revision=revision, local_files_only=_offline(),
                                   cache_dir=cache_dir or os.environ.get("HF_HUB_CACHE"), allow_patterns=HUB_FILES,
                                   library_name="i2i")
    except RevisionNotFoundError:
        raise CheckpointError(f"{where}: no such revision on the Hugging Face Hub") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"{repo_id}: no such local path, and no such model on the Hugging Face Hub (or it "
                              "is private: log in with `hf auth login`)") from None
    except LocalEntryNotFoundError:
        state = "HF_HUB_OFFLINE is set" if _offline() else "the Hub cannot be reached"
        raise CheckpointError(f"{where}: no such local path, not in the Hugging Face cache, and {state}; "
                              "download it once with network access (HF_HUB_OFFLINE unset)") from None
    except (HfHubHTTPError, HFValidationError, OSError) as err:
        raise CheckpointError(f"{where}: cannot download from the Hugging Face Hub "
                              f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{where}: the Hub repo holds no i2i generator (config.json + model.safetensors)")
    return folder


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None,
                commit_message: str = "Upload i2i generator") -> str:
    """Create ``repo_id`` if needed and upload a folder written by :func:`i2i.publish.save_pretrained`; returns the
    commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=HUB_FILES,
                                 commit_message=commit_message)
    except (HfHubHTTPError, HFValidationError, OSError) as err:
        raise CheckpointError(f"{repo_id}: push to the Hugging Face Hub failed "
                              f"({str(err).splitlines()[0] if str(err) else type(err).__name__}; log in with "
                              "`hf auth login` or pass a token)") from None
    return str(getattr(info, "commit_url", info))
