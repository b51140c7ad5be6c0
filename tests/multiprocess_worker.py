r"""One process of a data-parallel run on a global 1-D `data` mesh, for
tests/test_multiprocess.py: a tiny flax MLP trained a few SGD steps in plain
JAX (not the dlexp runner), two ways the runner could feed it:

- 'host': each process builds only its rows of every global batch and
  `jax.make_array_from_process_local_data` assembles the global batch;
- 'resident': the whole dataset is put on every device, replicated, and each
  step gathers its batch by an in-program permutation (the runner's way).

With --ckpt, every process then saves and restores the final state with
dlexp.train.checkpoint.GroupCheckpoints (Orbax) into that shared directory.
Process 0 alone writes --out/result.json.

  # one process, N devices:
  XLA_FLAGS=--xla_force_host_platform_device_count=2 JAX_PLATFORMS=cpu \
      python tests/multiprocess_worker.py --out=DIR
  # process i of 2 (dlexp.distributed reads the DLEXP_* variables):
  DLEXP_COORDINATOR=127.0.0.1:PORT DLEXP_NUM_PROCESSES=2 DLEXP_PROCESS_ID=i \
      JAX_PLATFORMS=cpu python tests/multiprocess_worker.py --out=DIR --ckpt=DIR
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dlexp import distributed  # pylint: disable=g-import-not-at-top,wrong-import-position

START = time.perf_counter()
PLAN = distributed.initialize()  # first: before anything touches a device

import flax.linen as nn  # pylint: disable=g-import-not-at-top,wrong-import-position,g-bad-import-order
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import optax  # pylint: disable=g-import-not-at-top,wrong-import-position
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # pylint: disable=g-import-not-at-top,wrong-import-position

N, FEATURES, CLASSES, BATCH, STEPS = 64, 4, 3, 16, 4


class MLP(nn.Module):

  @nn.compact
  def __call__(self, x):
    return nn.Dense(CLASSES)(nn.relu(nn.Dense(8)(x)))


def dataset():
  """The same arrays in every process (seeded numpy)."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(N, FEATURES)).astype(np.float32)
  y = (x @ rng.normal(size=(FEATURES, CLASSES))).argmax(1).astype(np.int32)
  return x, y


def local_rows(sharding: NamedSharding, global_shape) -> slice:
  """The rows of a global array that this process's devices hold."""
  rows = [idx[0] for idx in
          sharding.addressable_devices_indices_map(global_shape).values()]
  start = min(r.start or 0 for r in rows)
  stop = max(global_shape[0] if r.stop is None else r.stop for r in rows)
  return slice(start, stop)


def loss_fn(params, x, y):
  logits = MLP().apply({'params': params}, x)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def init(mesh):
  # Params come out of a jit replicated on the global mesh; model.init on a
  # local device would give a single-device array that cannot mix with the
  # global batch.
  rep = NamedSharding(mesh, P())
  return jax.jit(lambda k: MLP().init(k, jnp.zeros((1, FEATURES)))['params'],
                 out_shardings=rep)(jax.random.key(0))


def train_host_fed(mesh, params, x, y):
  """Each process feeds its rows of every global batch."""
  batch = NamedSharding(mesh, P('data'))
  opt = optax.sgd(0.1)
  state = opt.init(params)

  @jax.jit
  def step(params, state, xb, yb):
    loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
    updates, state = opt.update(grads, state)
    return optax.apply_updates(params, updates), state, loss

  order = np.random.default_rng(1).permutation(N)[:STEPS * BATCH].reshape(
      STEPS, BATCH)
  rows = local_rows(batch, (BATCH, FEATURES))
  losses = []
  for idx in order:
    mine = idx[rows]  # only this process's part of the global batch
    xb = jax.make_array_from_process_local_data(batch, x[mine],
                                                (BATCH, FEATURES))
    yb = jax.make_array_from_process_local_data(batch, y[mine], (BATCH,))
    params, state, loss = step(params, state, xb, yb)
    losses.append(float(loss))  # fully replicated: readable in every process
  return params, losses


def train_resident(mesh, params, x, y):
  """The whole dataset replicated on every device; batches drawn inside the
  program from one key, so every process computes the same order."""
  rep, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P('data'))
  # device_put of a host array to a global sharding: every process must pass
  # the same values (JAX does not check).
  train_x, train_y = jax.device_put(x, rep), jax.device_put(y, rep)
  opt = optax.sgd(0.1)
  state = opt.init(params)

  @jax.jit
  def epoch(params, state, train_x, train_y, key):
    order = jax.random.permutation(key, N)[:STEPS * BATCH].reshape(
        STEPS, BATCH)

    def body(carry, idx):
      params, state = carry
      xb = jax.lax.with_sharding_constraint(train_x[idx], batch)
      yb = jax.lax.with_sharding_constraint(train_y[idx], batch)
      loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
      updates, state = opt.update(grads, state)
      return (optax.apply_updates(params, updates), state), loss

    (params, state), losses = jax.lax.scan(body, (params, state), order)
    return params, losses

  params, losses = epoch(params, state, train_x, train_y, jax.random.key(1))
  return params, np.asarray(losses).tolist()


def check_checkpoints(params, args) -> dict:
  """Saves and restores `params` with dlexp's GroupCheckpoints, and tells a
  shared directory from per-process ones."""
  # Imported here: Orbax is slow to import, and the reference run skips this.
  from dlexp.train import checkpoint  # pylint: disable=g-import-not-at-top
  # Local disks (here: --out differs per process) cannot hold checkpoints
  # that a restarted job resumes from; --ckpt is shared.
  shared = dict(ckpt=distributed.directory_is_shared(args.ckpt),
                out=distributed.directory_is_shared(args.out))
  # Every process calls save and restore: Orbax synchronizes them and lets
  # the primary process write the replicated arrays and the metadata.
  ckpts = checkpoint.GroupCheckpoints(args.ckpt, keep=1)
  ckpts.save(1, params, {'note': 'spike'})
  epoch, restored, _ = ckpts.restore_latest(params)
  ckpts.close()
  return dict(shared=shared, restored_epoch=epoch, restored=restored)


def main() -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument('--out', required=True)
  parser.add_argument('--ckpt', default='',
                      help='checkpoint directory shared by all processes; '
                      "'' = skip the checkpoint check")
  args = parser.parse_args()
  started = time.perf_counter()
  mesh = Mesh(np.array(jax.devices()), ('data',))  # every process's devices
  x, y = dataset()
  params = init(mesh)
  host, host_losses = train_host_fed(mesh, params, x, y)
  resident, resident_losses = train_resident(mesh, params, x, y)
  trained = time.perf_counter()

  checks = check_checkpoints(host, args) if args.ckpt else {}
  to_list = lambda t: jax.tree_util.tree_map(lambda a: np.asarray(a).tolist(),
                                             t)
  if distributed.is_primary():
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'result.json'), 'w') as f:
      json.dump(dict(
          plan=PLAN.source, process_count=jax.process_count(),
          device_count=jax.device_count(),
          local_device_count=jax.local_device_count(),
          host=to_list(host), resident=to_list(resident),
          host_losses=host_losses, resident_losses=resident_losses,
          **{k: to_list(v) for k, v in checks.items()},
          seconds=dict(start_to_mesh=started - START,
                       train=trained - started,
                       checkpoint=time.perf_counter() - trained)), f)
  return 0


if __name__ == '__main__':
  sys.exit(main())
