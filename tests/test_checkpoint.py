"""Training-state and export loading errors: one line naming the file, never an unpickled object."""
import json
import pickle

import pytest
import torch

from i2i.checkpoint import CheckpointError, safe_torch_load
from i2i.export import export_generator, load_generator
from i2i.models import build_generator


class _Marker:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_safe_load_errors(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "page.pt").write_bytes(b"<html>404 not found</html>")
    torch.save({"x": _Marker()}, tmp_path / "evil.pt")
    with open(tmp_path / "proto4.pt", "wb") as f:
        pickle.dump({"x": 1}, f, protocol=4)
    with pytest.raises(CheckpointError, match="does not exist"):
        safe_torch_load(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"empty.pt: not a readable PyTorch checkpoint: the file is empty"):
        safe_torch_load(tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match="page.pt: not a readable PyTorch checkpoint"):
        safe_torch_load(tmp_path / "page.pt")
    with pytest.raises(CheckpointError, match="evil.pt: refusing to unpickle arbitrary objects"):
        safe_torch_load(tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="proto4.pt: not a readable PyTorch checkpoint"):
        safe_torch_load(tmp_path / "proto4.pt")


def test_export_with_unknown_architecture_names_the_file(tmp_path):
    net = build_generator("resnet", n_blocks=1, ngf=4)
    folder = export_generator(net, tmp_path / "G", architecture="resnet", kwargs={"n_blocks": 1, "ngf": 4},
                              direction="AtoB")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(load_generator(folder)(x), net.eval()(x))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architecture": "resnet_99blocks"}))
    with pytest.raises(CheckpointError, match=r"config.json: cannot build the generator \(unknown generator"):
        load_generator(folder)
