"""Run by tests/test_distributed.py under torchrun: train, then save this rank's weights to OUT/rank<r>.pt.

    ddp_worker.py OUT [section.key=value ...]

With ``KILL_STEP`` and ``KILL_MARKER`` in the environment, the first time rank 1 reaches step KILL_STEP (and the
marker file does not exist) it writes the marker and SIGKILLs itself, as a crashed node would; under
``torchrun --max-restarts`` the group restarts and, with train.resume=true, goes on from the last checkpoint.
"""
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.config import load_config  # noqa: E402
from i2i.engine.trainer import Trainer  # noqa: E402

out = Path(sys.argv[1])
trainer = Trainer(load_config("cyclegan_horse2zebra", sys.argv[2:]))
print(f"rank {trainer.dist.rank} restart {os.environ.get('TORCHELASTIC_RESTART_COUNT')} at step {trainer.step}",
      flush=True)
if "KILL_STEP" in os.environ:
    marker, kill_step, train_step = Path(os.environ["KILL_MARKER"]), int(os.environ["KILL_STEP"]), \
        trainer.algorithm.train_step

    def train_step_or_die(batch):
        if trainer.dist.rank == 1 and trainer.step == kill_step and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return train_step(batch)

    trainer.algorithm.train_step = train_step_or_die
trainer.fit()
weights = {f"{n}.{k}": v for n, net in trainer.algorithm.nets.items() for k, v in net.state_dict().items()}
torch.save(weights, out / f"rank{trainer.dist.rank}.pt")
trainer.close()
