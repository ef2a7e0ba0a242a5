"""Run by tests/test_faults.py under torchrun --max-restarts: train with train.resume=true; the first time rank 1
reaches step KILL_STEP (and no MARKER file exists), it writes MARKER and SIGKILLs itself, as a crashed node would.

    elastic_worker.py MARKER KILL_STEP [section.key=value ...]
"""
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from i2i.config import load_config  # noqa: E402
from i2i.engine.trainer import Trainer  # noqa: E402

marker, kill_step = Path(sys.argv[1]), int(sys.argv[2])
trainer = Trainer(load_config("cyclegan_horse2zebra", sys.argv[3:]))
print(f"rank {trainer.dist.rank} restart {os.environ.get('TORCHELASTIC_RESTART_COUNT')} step {trainer.step}",
      flush=True)
train_step = trainer.algorithm.train_step


def train_step_or_die(batch):
    if trainer.dist.rank == 1 and trainer.step == kill_step and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return train_step(batch)


trainer.algorithm.train_step = train_step_or_die
try:
    trainer.fit()
finally:
    trainer.close()
