"""Parameter counts and training throughput of every registered model family.

    .venv/bin/python benchmarks/bench_models.py [--quick] [--steps 5]
        [--batch 128] [--big-batch 32] [--models mlp cnn ...] [--engine]
        [--conv-impl auto|xla|im2col] [--epoch-driver auto|scan|step]
        [--xla-options dlexp|default]

For each family in dlexp.models.MODELS: its default variant on a
Fashion-MNIST-sized input (28, 28, 1), plus a CIFAR-sized input (32, 32, 3)
for vgg and resnet (whose defaults are vgg16 and resnet20). --quick uses each
family's registered tiny variant instead and finishes in under a minute.

Throughput is that of dlexp's own training step (`Steps.train_step`: the
step the engine scans over; SGD with momentum 0.9, softmax cross-entropy,
config defaults otherwise), jitted with dlexp.xla_flags' compiler options
(--xla-options default: XLA's own), on one fixed random batch: the data do
not change the cost. Each step is timed on its own after compilation and a
warm-up step (dlexp.timing); examples/s is batch / median step time, so a
burst of load from other processes does not move it much; per CPU-s is
batch / median CPU time of a step (all threads). GFLOP/step is XLA's cost analysis of
the compiled step. --engine adds one timed engine epoch of --steps steps per
model, driven as the runner drives it (program.run_epoch with the default
epoch driver: a lax.scan, or a per-step loop for conv nets on CPU, where conv
gradients inside a scan are slow); --epoch-driver scan|step forces one. A
family that fails to build or run is reported and skipped.
"""
import math
import os
import sys
import time
import traceback
import types
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import bench_engine
from dlexp import config as config_lib
from dlexp import models, tables, timing, xla_flags
from dlexp.train import program as program_lib

FMNIST = (28, 28, 1)
CIFAR = (32, 32, 3)
# Families also measured on CIFAR-sized inputs (their defaults are the CIFAR
# networks of the notes: vgg16, resnet20).
CIFAR_FAMILIES = ('vgg', 'resnet')
# Families whose default variant costs > ~1 GFLOP per training example on
# these inputs: a smaller batch keeps a step within seconds on a laptop CPU.
BIG_FAMILIES = ('vgg', 'inception', 'alexnet')
NUM_CLASSES = 10
RECURRENT_FAMILIES = ('rnn', 'lstm', 'gru')
# --xla-options: the compiler options of the timed step.
OPTIONS = {'dlexp': xla_flags.compiler_options, 'default': dict}


def variant_name(family: str, cfg) -> str:
  """The variant a config builds, spelled out for the table."""
  if cfg.variant:
    name = cfg.variant
  elif family == 'mlp':
    name = 'x'.join(map(str, cfg.hidden)) if cfg.hidden else (
        f'{cfg.depth}x{cfg.width}')
  elif family in ('rnn', 'lstm', 'gru'):
    cell = cfg.cell if family == 'rnn' else family
    name = f'{cell} {cfg.rnn_hidden}'
  else:
    module = sys.modules.get(models.MODELS.get(family).builder.__module__)
    name = getattr(module, 'DEFAULT_VARIANT', 'default')
  if cfg.width_mult != 1.0:
    name += f' x{cfg.width_mult:g} width'
  return name


def make_config(family: str, tiny: bool, conv_impl: str = 'auto',
                epoch_driver: str = 'auto'):
  cfg = config_lib.default_config()
  cfg.model = models.tiny_config(family) if tiny else cfg.model
  cfg.model.name = family
  cfg.model.conv_impl = conv_impl
  cfg.epoch_driver = epoch_driver
  return cfg


def make_program(cfg, input_shape, batch_examples: int, mesh
                 ) -> program_lib.Program:
  """The Program the runner builds (program.build) for inputs of
  `input_shape` and an epoch of `batch_examples` examples."""
  shape = tuple(input_shape)
  spec = types.SimpleNamespace(num_classes=NUM_CLASSES, target_dim=(),
                               input_shape=shape,
                               train_y=np.zeros(batch_examples, np.int32))
  return program_lib.build(cfg, spec, mesh,
                           program_lib.left_out([cfg]))


def engine_throughput(cfg, x, y, steps: int, mesh) -> float:
  """examples/s of one engine epoch of `steps` steps over copies of the batch,
  driven as the runner drives it (program.run_epoch, its default driver)."""
  prog = make_program(cfg, x.shape[1:], steps * x.shape[0], mesh)
  driver = program_lib.epoch_driver_for(cfg)
  train_x = jnp.concatenate([x] * steps)
  train_y = jnp.concatenate([y] * steps)
  hp = program_lib.stack_hp({p: [config_lib.get(cfg, p)]
                             for p in config_lib.traced_fields()})
  holder = {'state': prog.init(jnp.zeros((1,), jnp.int32), x[:1])[0]}
  active = np.ones(1, bool)

  def epoch():
    holder['state'], _ = program_lib.run_epoch(prog, driver, holder['state'],
                                               hp, active, train_x, train_y)
    return holder['state']
  # The first epoch compiles (warm-up); the second is timed.
  return timing.time_fn(epoch, repeats=1, items=steps * x.shape[0]).rate()


def measure(family: str, input_shape: Tuple[int, ...], batch: int,
            steps: int, max_seconds: float, tiny: bool, mesh,
            engine: bool = False, conv_impl: str = 'auto',
            epoch_driver: str = 'auto',
            xla_options: str = 'dlexp') -> Dict[str, object]:
  """One table row: params, compile time, step FLOPs and examples/s."""
  cfg = make_config(family, tiny, conv_impl, epoch_driver)
  cfg.batch_size = batch
  steps_obj = make_program(cfg, input_shape, 100 * batch, mesh).steps
  key = jax.random.PRNGKey(0)
  x = jax.random.normal(key, (batch,) + tuple(input_shape), jnp.float32)
  y = jax.random.randint(key, (batch,), 0, NUM_CLASSES, jnp.int32)
  state = jax.jit(steps_obj.init)(jnp.int32(0), x[:1])
  sizes = models.count_params({'params': state.params,
                               'batch_stats': state.batch_stats})
  hp = {p: jnp.float32(config_lib.get(cfg, p))
        for p in config_lib.traced_fields()}

  start = time.perf_counter()
  # The state is donated, as in the engine: parameters update in place.
  step = jax.jit(steps_obj.train_step, donate_argnums=(0,)).lower(
      state, hp, x, y).compile(OPTIONS[xla_options]())
  compile_s = time.perf_counter() - start
  cost = step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float((cost or {}).get('flops', math.nan))
  # XLA's cost analysis counts a while-loop body once; nn.RNN scans over
  # time, so a recurrent net's figure covers one time step, not the sequence.
  loops = family in RECURRENT_FAMILIES

  holder = {'state': state}

  def one_step():
    holder['state'], metrics = step(holder['state'], hp, x, y)
    return metrics
  t = timing.time_fn(one_step, repeats=steps, warmup=1, items=x.shape[0],
                     budget_s=max_seconds, min_repeats=2)
  metrics = one_step()
  loss = float(metrics['loss'])
  engine_rate = (engine_throughput(cfg, x, y, steps, mesh)
                 if engine else math.nan)
  return dict(engine_rate=engine_rate, loops=loops,
      params=sizes['trainable'], non_trainable=sizes['non_trainable'],
      compile_s=compile_s, gflop_step=flops / 1e9, steps=len(t.wall_s),
      step_s=t.median_s, rate=t.rate(), best=t.best_rate(),
      cpu_rate=t.cpu_rate(), finite=math.isfinite(loss))


def parse_args():
  parser = bench_engine.benchmark_parser(
      __doc__, "each family's tiny variant, 28x28x1 only, batch 32; < 1 "
      'minute')
  parser.add_argument('--models', nargs='+', metavar='FAMILY',
                      help='families to measure (default: every registered '
                      'one)')
  parser.add_argument('--batch', type=int, default=0,
                      help='batch size (default 128; quick 32)')
  parser.add_argument('--big-batch', type=int, default=32,
                      help=f'batch size for {", ".join(BIG_FAMILIES)}')
  parser.add_argument('--steps', type=int, default=0,
                      help='timed steps per model (default 5; quick 3)')
  parser.add_argument('--max-seconds', type=float, default=30.0,
                      help='stop timing a model after this long (at least '
                      '2 steps)')
  parser.add_argument('--engine', action='store_true',
                      help='also time one engine epoch (Program.train_epoch, '
                      'a lax.scan) of --steps steps per model')
  parser.add_argument('--conv-impl', default='auto',
                      choices=('auto', 'xla', 'im2col'),
                      help='model.conv_impl of the conv families')
  parser.add_argument('--epoch-driver', default='auto',
                      choices=('auto', 'scan', 'step'),
                      help='config.epoch_driver of the --engine epoch')
  parser.add_argument('--xla-options', default='dlexp',
                      choices=tuple(OPTIONS),
                      help="compiler options of the timed step: dlexp's "
                      '(dlexp.xla_flags.compiler_options(), as the engine '
                      "compiles) or XLA's defaults")
  args = parser.parse_args()
  args.batch = args.batch or (32 if args.quick else 128)
  args.steps = args.steps or (3 if args.quick else 5)
  return args


def main():
  args = parse_args()
  start = time.perf_counter()
  mesh = Mesh(np.array(jax.devices()), ('data',))
  families = args.models or models.MODELS.names()
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  backend '
        f'{jax.default_backend()} x{len(jax.devices())}  cpus {os.cpu_count()}'
        f'  load {os.getloadavg()[0]:.1f}  '
        f'{"tiny variants" if args.quick else "default variants"}  '
        f'conv_impl {args.conv_impl}  xla options {args.xla_options} '
        f'{OPTIONS[args.xla_options]()}'
        + (f'  epoch_driver {args.epoch_driver}' if args.engine else ''))
  rows, failures = [], []
  for family in families:
    shapes = [FMNIST]
    if family in CIFAR_FAMILIES and not args.quick:
      shapes.append(CIFAR)
    for shape in shapes:
      batch = args.big_batch if (family in BIG_FAMILIES
                                 and not args.quick) else args.batch
      batch = min(batch, args.batch)
      t0 = time.perf_counter()
      try:
        variant = variant_name(family, make_config(family, args.quick).model)
        row = measure(family, shape, batch, args.steps, args.max_seconds,
                      args.quick, mesh, args.engine, args.conv_impl,
                      args.epoch_driver, args.xla_options)
      except Exception as e:  # pylint: disable=broad-except
        # A family still in flux must not hide the others' numbers.
        first = (str(e).splitlines() or [''])[0][:160]
        failures.append((family, shape, f'{type(e).__name__}: {first}'))
        print(f'  {family} {shape}: FAILED ({type(e).__name__}: {first})',
              flush=True)
        if os.environ.get('BENCH_TRACEBACK'):
          traceback.print_exc()
        continue
      row.update(family=family, variant=variant, shape=shape, batch=batch)
      rows.append(row)
      print(f'  {family} {variant} {shape}: compile {row["compile_s"]:.1f}s, '
            f'{row["steps"]} steps, {time.perf_counter() - t0:.1f}s total',
            flush=True)

  print(f'\nload {os.getloadavg()[0]:.1f} at the end\n')
  header = ['model', 'variant', 'input', 'params', 'BN stats', 'batch',
            'GFLOP/step', 'compile s', 'examples/s (median)', 'best',
            'per CPU-s'] + (['engine epoch ex/s'] if args.engine else [])
  table = []
  for r in rows:
    shape = 'x'.join(map(str, r['shape']))
    nan_note = '' if r['finite'] else ' (loss not finite)'
    table.append([r['family'], r['variant'], shape, f'{r["params"]:,}',
                  f'{r["non_trainable"]:,}', r['batch'],
                  f'{r["gflop_step"]:.2f}{"*" if r["loops"] else ""}',
                  f'{r["compile_s"]:.1f}', f'{r["rate"]:,.0f}{nan_note}',
                  f'{r["best"]:,.0f}', f'{r["cpu_rate"]:,.0f}']
                 + ([f'{r["engine_rate"]:,.0f}'] if args.engine else []))
  for family, shape, why in failures:
    table.append([family, 'FAILED', 'x'.join(map(str, shape)), why])
  print(tables.markdown(header, table, align='lll' + 'r' * (len(header) - 3)))
  if any(r['loops'] for r in rows):
    print('\n* a recurrent scan over time: XLA counts the loop body once, so '
          'this is a lower bound (about one time step\'s cost).')
  print(f'total {time.perf_counter() - start:.0f}s')


if __name__ == '__main__':
  main()
