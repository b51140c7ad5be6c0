"""vmap or loop: which way of running a group's members is faster, by model
size and member count, on this backend.

    .venv/bin/python benchmarks/member_policy.py [--members 3 15] [--epochs 2]
        [--models mlp2x16 mlp3x256 ...] [--train_limit 0]
        [--set model.conv_impl=im2col ...]

Each row trains the same group (M seeds of one model on Fashion-MNIST, batch
128) both ways, vmap (one program over M members) and loop (the same program
for one member, called M times), built by the runner's own functions, and
reports training examples per second of all members together (an epoch of
training plus the validation pass, as the runner runs them; compile
excluded), median over the epochs after the first. The two modes alternate
epoch by epoch in one process, so a burst of load from other processes hits
both alike. The last column is what members=auto picks (see
dlexp.train.program.member_mode); benchmarks/README.md records the numbers
behind that rule.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dlexp import tables  # pylint: disable=g-import-not-at-top,wrong-import-position

MODELS = {
    'mlp2x16': dict(model__depth=2, model__width=16),
    'mlp3x64': dict(model__depth=3, model__width=64),
    'mlp3x256': dict(model__depth=3, model__width=256),
    'mlp20x100': dict(model__depth=20, model__width=100),
    'lstm32': dict(model__name='lstm', model__rnn_hidden=32),
    'lstm128': dict(model__name='lstm', model__rnn_hidden=128),
    'cnn_x0.25': dict(model__name='cnn', model__width_mult=0.25),
    'cnn': dict(model__name='cnn'),
}

def _config(model: str, members: int, train_limit: int, sets=()):
  from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
  cfg = config_lib.default_config()
  for k, v in MODELS[model].items():
    config_lib.set_value(cfg, k.replace('__', '.'), v)
  for item in sets:
    key, _, text = item.partition('=')
    config_lib.set_value(cfg, key, text)  # coerced to the field's type
  cfg.num_seeds, cfg.data.train_limit = members, train_limit
  return cfg


def measure(model: str, members: int, epochs: int, dataset, mesh, sets=()):
  """Median examples/s of vmap and loop epochs (training + validation, as
  the runner does them), alternating epoch by epoch."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
  from dlexp.train import program as program_lib  # pylint: disable=g-import-not-at-top
  from dlexp.train.device_data import replicate, to_device  # pylint: disable=g-import-not-at-top
  cfg = _config(model, members, 0, sets)
  prog = program_lib.build(cfg, dataset, mesh,
                           program_lib.left_out([cfg]))
  driver = program_lib.epoch_driver_for(cfg)
  ddata = to_device(dataset, cfg, mesh)
  sample = jnp.zeros((1,) + tuple(dataset.input_shape), jnp.float32)
  traced = config_lib.traced_fields()
  chunks = {'vmap': [list(range(members))],
            'loop': [[i] for i in range(members)]}
  state = {}
  for mode, cs in chunks.items():
    state[mode] = []
    for c in cs:
      hp = program_lib.stack_hp({p: [config_lib.get(cfg, p)] * len(c)
                                 for p in traced})
      seeds = jnp.asarray(c, jnp.int32)
      st, _ = prog.precompile(
          driver, (seeds, sample), mesh, hp, np.ones(len(c), bool), ddata,
          lambda: replicate(prog.init(seeds, sample), mesh))  # pylint: disable=cell-var-from-loop
      state[mode].append([st, hp])
  steps = prog.steps.steps_per_epoch * cfg.batch_size * members
  rates = {m: [] for m in chunks}
  for e in range(epochs):
    for mode in chunks:
      start = time.perf_counter()
      for item in state[mode]:
        st, hp = item
        active = np.ones(len(hp['optimizer.learning_rate']), bool)
        st, _ = program_lib.run_epoch(prog, driver, st, hp, active,
                                      ddata.train_x, ddata.train_y)
        program_lib.evaluate(prog, st.params, st.batch_stats, hp, ddata.val)
        item[0] = st
      jax.block_until_ready([s for s, _ in state[mode]])
      if e > 0 or epochs == 1:
        rates[mode].append(steps / (time.perf_counter() - start))
  cfg.members = 'auto'
  median = {m: sorted(v)[len(v) // 2] for m, v in rates.items()}
  return median, program_lib.member_mode(cfg, members)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--models', nargs='+', default=list(MODELS),
                      choices=list(MODELS))
  parser.add_argument('--members', nargs='+', type=int, default=[3, 15])
  parser.add_argument('--epochs', type=int, default=3,
                      help='epochs per mode; the first is not timed')
  parser.add_argument('--train_limit', type=int, default=0,
                      help='training examples (0 = all 55,000)')
  parser.add_argument('--set', nargs='+', default=[], metavar='FIELD=VALUE',
                      help='config fields for every row, as --config.FIELD')
  args = parser.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  backend '
        f'{jax.default_backend()}  cpus {os.cpu_count()}  load '
        f'{os.getloadavg()[0]:.1f}', flush=True)
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from dlexp import data as data_lib  # pylint: disable=g-import-not-at-top
  mesh = Mesh(np.array(jax.devices()), ('data',))
  datasets = {}
  rows = []
  for model in args.models:
    cfg = _config(model, 1, args.train_limit)
    if cfg.data.name not in datasets:
      datasets[cfg.data.name] = data_lib.load(cfg.data)
    for members in args.members:
      median, auto = measure(model, members, args.epochs,
                             datasets[cfg.data.name], mesh, args.set)
      faster = max(median, key=median.get)
      ratio = median['vmap'] / median['loop']
      rows.append([model, str(members), f'{median["vmap"]:,.0f}',
                   f'{median["loop"]:,.0f}', f'{ratio:.2f}', faster,
                   auto + ('' if auto == faster else ' (slower)')])
      print(' | '.join(rows[-1]), flush=True)
  print(f'\nload {os.getloadavg()[0]:.1f} at the end\n')
  print(tables.markdown(['model', 'members', 'vmap ex/s', 'loop ex/s',
                         'vmap / loop', 'faster', 'auto picks'], rows))


if __name__ == '__main__':
  main()
