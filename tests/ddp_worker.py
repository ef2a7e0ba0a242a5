"""Run by tests/test_distributed.py under torchrun: train, then save this rank's weights to OUT/rank<r>.pt."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.config import load_config  # noqa: E402
from i2i.engine.trainer import Trainer  # noqa: E402

out = Path(sys.argv[1])
trainer = Trainer(load_config("cyclegan_horse2zebra", sys.argv[2:]))
trainer.fit()
weights = {f"{n}.{k}": v for n, net in trainer.algorithm.nets.items() for k, v in net.state_dict().items()}
torch.save(weights, out / f"rank{trainer.dist.rank}.pt")
trainer.close()
