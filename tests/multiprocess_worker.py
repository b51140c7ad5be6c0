r"""One process of a dlexp run for tests/test_multiprocess.py: joins the
multi-process runtime (dlexp.distributed reads the DLEXP_* variables), trains
a tiny grid through the runner, and prints the members' final test losses.

  # process i of 2:
  DLEXP_COORDINATOR=127.0.0.1:PORT DLEXP_NUM_PROCESSES=2 DLEXP_PROCESS_ID=i \
      JAX_PLATFORMS=cpu python tests/multiprocess_worker.py WORKDIR
  # one process, two devices:
  XLA_FLAGS=--xla_force_host_platform_device_count=2 JAX_PLATFORMS=cpu \
      python tests/multiprocess_worker.py WORKDIR
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dlexp import distributed  # pylint: disable=g-import-not-at-top,wrong-import-position

PLAN = distributed.initialize()  # first: before anything touches a device

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position,g-bad-import-order
from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from dlexp.train import runner  # pylint: disable=g-import-not-at-top,wrong-import-position


def main(workdir: str) -> None:
  cfg = config_lib.default_config()
  cfg.data.name, cfg.data.val_size, cfg.data.train_limit = 'synthetic', 256, 512
  cfg.model.depth, cfg.model.width = 2, 8
  cfg.epochs, cfg.num_seeds, cfg.batch_size = 2, 2, 32
  cfg.eval_batch_size, cfg.diagnostics.every_epochs = 256, 1
  lines = []
  results = runner.run(cfg, {'optimizer.learning_rate': [0.05, 0.2]},
                       workdir, out=lines.append)
  print(json.dumps(dict(
      plan=PLAN.source, processes=jax.process_count(),
      devices=jax.device_count(), lines=lines,
      losses=[r['test_loss'] for r in results])))


if __name__ == '__main__':
  main(sys.argv[1])
