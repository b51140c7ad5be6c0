"""Training throughput of dlexp's engine against a naive JAX loop and PyTorch.

    .venv/bin/python benchmarks/bench_engine.py [--quick] [--steps S]
        [--repeats 5] [--batch 128] [--models ...] [--vmap MODEL:M ...]
        [--torch-threads 1] [--no-torch] [--no-step-loop] [--no-scan-check]
        [--no-runner]

Fashion-MNIST (dlexp.data.load with the default config), SGD with momentum
0.9, examples/s after compilation. Configurations:

- engine (DRIVER): one epoch of one member through `program.run_epoch`, as
  the runner trains, with the epoch driver it picks: 'scan' (the epoch is
  one vmapped, compiled lax.scan) or, for conv nets on CPU, 'step' (a Python
  loop over one compiled step). Conv nets also get a row with the scan
  driver. Training only (the runner check below adds validation and
  tracking).
- naive-jax (baseline): the same flax module and optimizer as one jitted train
  step, called from a Python loop over numpy batches (the usual JAX recipe).
- naive-jax (scan) (scan-driven models): the same step with the epoch as
  one jitted lax.scan over device data: the least a JAX epoch does, a
  ceiling for the engine's scan driver.
- step-loop (scan-driven models): dlexp's own `Steps.train_step` jitted per
  step with the data on the device; separates the cost of dlexp's step from
  the effect of the scan.
- torch: the same architecture in PyTorch (CPU; benchmarks/peers_torch.py),
  in this process, if `import torch` works (the optional `bench` extra, not
  a dlexp dependency). compare_peers.py runs PyTorch in its own process.
- vmap xM / loop xM: M grid members as one vmapped program vs M calls of the
  one-member program (the runner's members='vmap' / 'loop'), with the
  default driver; the baseline is the loop, and the ratio decides
  members='auto'.
- runner: `runner.run` for four full epochs (all 55,000 examples); the median
  examples_per_sec of epochs 2-4 from metrics.jsonl (training plus per-epoch
  validation and tracking; no diagnostics).

One timed repeat is one epoch of S steps (full 429-step epochs for the MLPs,
S = 50 for the CNN and LSTM, 10 for ResNet-20; --steps sets S for all), trained on the first
S x --batch examples: the per-epoch work (the in-program shuffle, ~21 ms for
all 55,000 examples on this CPU, and each epoch call's fixed cost) is then
amortized as in a full epoch, which a truncated epoch of the full set would
not do. Every configuration is compiled and warmed up first; the timed
repeats are then interleaved across configurations (dlexp.timing), so a
burst of load from other processes hits all rows alike.
Reported: the median over repeats, the best repeat (the least disturbed one,
a gauge of the noise), examples per second of this process's CPU time
(median; it moves less with other processes' load, as long as nothing
spin-waits) and ratios of the wall-clock medians.
"""
import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import models, records, tables, timing
from dlexp.train import program as program_lib
from dlexp.train import runner

# name -> (model config overrides, description, default steps per epoch:
# 0 = the full 429-step epoch; the slower nets train on a 50-step epoch so
# that a row takes seconds, not a minute). Shared by every backend.
MODELS = {
    'mlp20x100': (dict(name='mlp', depth=20, width=100), 'MLP 20x100', 0),
    'mlp2x256': (dict(name='mlp', depth=2, width=256), 'MLP 2x256', 0),
    'mlp3x256': (dict(name='mlp', depth=3, width=256), 'MLP 3x256', 0),
    'cnn': (dict(name='cnn'), 'CNN (32-64-128)', 50),
    # conv_impl 'auto' resolves per layer; the CNN's convs (1 and 32 input
    # channels) take the native XLA conv on CPU. This row forces im2col.
    'cnn-im2col': (dict(name='cnn', conv_impl='im2col'),
                   'CNN (32-64-128) im2col', 50),
    'lstm': (dict(name='lstm', rnn_hidden=128), 'LSTM 128', 50),
    'resnet20': (dict(name='resnet', variant='resnet20'), 'ResNet-20', 10),
}
# bench_engine.MODELS key -> benchmarks/peers_torch.py spec of the same net.
TORCH_SPECS = {
    'mlp20x100': {'name': 'mlp', 'hidden': [100] * 20},
    'mlp2x256': {'name': 'mlp', 'hidden': [256] * 2},
    'mlp3x256': {'name': 'mlp', 'hidden': [256] * 3},
    'cnn': {'name': 'cnn'},
    'resnet20': {'name': 'resnet', 'depth': 20},
}
# runner.run cross-check: epochs 2..RUNNER_EPOCHS are timed.
RUNNER_EPOCHS = 4
# vmap/loop ratios within 1 +- NEUTRAL count as a tie: repeated runs on the
# shared 2-core machine moved ratios by about this much.
NEUTRAL = 0.1


@dataclasses.dataclass
class Bench:
  """One row: `run()` trains and returns the number of examples it saw."""
  label: str
  run: Callable[[], int]
  baseline: Optional[str] = None  # label of the row the ratio divides by
  steps: int = 0  # steps per epoch (one timed repeat of one member)
  examples: int = 0  # per run()


def make_config(model: str, batch: int):
  cfg = config_lib.default_config()
  cfg.model.update(MODELS[model][0])
  cfg.batch_size = batch
  cfg.diagnostics.every_epochs = 0
  cfg.checkpoint.every_epochs = 0
  config_lib.validate(cfg)
  return cfg


# -- dlexp ---------------------------------------------------------------------
def make_program(cfg, dataset, mesh) -> program_lib.Program:
  """The Program the runner builds for this config (program.build); one epoch
  is len(dataset.train_y) // batch steps."""
  return program_lib.build(cfg, dataset, mesh,
                           program_lib.left_out([cfg]))


def default_driver(cfg) -> str:
  """The epoch driver the runner picks for this config."""
  return program_lib.epoch_driver_for(cfg)


def engine(prog: program_lib.Program, cfg, dataset, ddata, members: int,
           mode: str, driver: str) -> Callable[[], int]:
  """One epoch of `members` members, vmapped in one program or looped over
  one-member programs, driven as the runner drives it (program.run_epoch)."""
  steps = prog.steps.steps_per_epoch
  size = members if mode == 'vmap' else 1
  sample = jnp.zeros((1,) + tuple(dataset.input_shape), jnp.float32)
  hp = program_lib.stack_hp({p: [config_lib.get(cfg, p)] * size
                             for p in config_lib.traced_fields()})
  active = np.ones(size, bool)
  states = [prog.init(jnp.arange(i, i + size, dtype=jnp.int32), sample)[0]
            for i in range(0, members, size)]

  def run() -> int:
    for k, st in enumerate(states):
      states[k], _ = program_lib.run_epoch(prog, driver, st, hp, active,
                                           ddata.train_x, ddata.train_y)
    jax.block_until_ready(states)
    return members * steps * cfg.batch_size
  return run


def step_loop(cfg, dataset, ddata, mesh, steps: int) -> Callable[[], int]:
  """dlexp's train step jitted per step; batches gathered on the device."""
  st = make_program(cfg, dataset, mesh).steps
  state = jax.jit(st.init)(jnp.int32(0), ddata.train_x[:1])
  hp = {p: jnp.float32(config_lib.get(cfg, p))
        for p in config_lib.traced_fields()}
  n, b = len(dataset.train_y), cfg.batch_size

  @jax.jit
  def step(state, idx):
    return st.train_step(state, hp, ddata.train_x[idx], ddata.train_y[idx])

  rng = np.random.default_rng(0)
  holder = [state]

  def run() -> int:
    order = rng.permutation(n)[:steps * b].reshape(steps, b)
    state = holder[0]
    for idx in order:
      state, metrics = step(state, idx)
    jax.block_until_ready(metrics)
    holder[0] = state
    return steps * b
  return run


# -- baseline 1: naive JAX -----------------------------------------------------
def _naive_setup(cfg, dataset):
  """The naive baselines' flax module, dropout key, initial variables and
  optax.sgd."""
  module = models.build_model(cfg.model, dataset.num_classes,
                              dataset.input_shape)
  key = jax.random.PRNGKey(0)
  variables = module.init({'params': key, 'dropout': key},
                          jnp.asarray(dataset.train_x[:1]), train=False)
  opt = optax.sgd(cfg.optimizer.learning_rate,
                  momentum=cfg.optimizer.momentum)
  return module, key, variables, opt


def naive_jax(cfg, dataset, steps: int) -> Callable[[], int]:
  """flax module + optax.sgd, one jitted step per batch from a Python loop."""
  module, key, variables, opt = _naive_setup(cfg, dataset)
  params, stats = variables['params'], variables.get('batch_stats', {})

  @jax.jit
  def step(params, stats, opt_state, x, y):
    def loss_fn(p):
      v = {'params': p, **({'batch_stats': stats} if stats else {})}
      logits, new = module.apply(v, x, train=True, dropout_rate=0.0,
                                 rngs={'dropout': key}, mutable=['batch_stats'])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, new.get('batch_stats', stats)
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  x_all, y_all = dataset.train_x, dataset.train_y
  rng = np.random.default_rng(0)
  holder = [(params, stats, opt.init(params))]
  b = cfg.batch_size

  def run() -> int:
    order = rng.permutation(len(y_all))[:steps * b].reshape(steps, b)
    state = holder[0]
    for idx in order:
      *state, loss = step(*state, x_all[idx], y_all[idx])
    jax.block_until_ready(loss)
    holder[0] = tuple(state)
    return steps * b
  return run


def naive_scan(cfg, dataset, steps: int) -> Callable[[], int]:
  """naive_jax's step with the epoch as one jitted lax.scan over batches on
  the device: the least a JAX epoch can do, which puts a ceiling on the
  engine's scan driver (no per-member hp, metrics, schedule or checks)."""
  module, key, variables, opt = _naive_setup(cfg, dataset)
  params = variables['params']
  b = cfg.batch_size
  x_all = jnp.asarray(dataset.train_x[:steps * b])
  y_all = jnp.asarray(dataset.train_y[:steps * b])

  @jax.jit
  def epoch(params, opt_state, order):
    def body(carry, idx):
      params, opt_state = carry
      x, y = x_all[idx], y_all[idx]

      def loss_fn(p):
        logits = module.apply({'params': p}, x, train=True, dropout_rate=0.0,
                              rngs={'dropout': key})
        return optax.softmax_cross_entropy_with_integer_labels(
            logits, y).mean()
      grads = jax.grad(loss_fn)(params)
      updates, opt_state = opt.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), None
    return jax.lax.scan(body, (params, opt_state), order)[0]

  rng = np.random.default_rng(0)
  holder = [(params, opt.init(params))]

  def run() -> int:
    order = rng.permutation(steps * b).reshape(steps, b)
    holder[0] = epoch(*holder[0], order)
    jax.block_until_ready(holder[0])
    return steps * b
  return run


# -- baseline 2: PyTorch -------------------------------------------------------
def torch_bench(model: str, cfg, dataset, steps: int) -> Callable[[], int]:
  """The same architecture, SGD momentum and batch size in PyTorch (CPU), in
  this process (benchmarks/peers_torch.py)."""
  from benchmarks import peers_torch  # pylint: disable=import-outside-toplevel
  return peers_torch.Trainer(TORCH_SPECS[model], dataset, cfg.batch_size,
                             cfg.optimizer.learning_rate,
                             cfg.optimizer.momentum, steps=steps).run


def torch_setup(threads: int) -> str:
  """Sets torch's intra-op threads; its version, or '' if it cannot be
  imported."""
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError:
    return ''
  torch.set_num_threads(threads)
  return torch.__version__


# -- runner cross-check --------------------------------------------------------
def runner_throughput(cfg, dataset, epochs: int) -> List[float]:
  """examples_per_sec that runner.run logs for epochs 2.. of a run (the
  first epoch's buffers are new)."""
  cfg.epochs = epochs
  with tempfile.TemporaryDirectory() as workdir:
    (result,) = runner.run(cfg, {}, workdir, out=runner.Printer(quiet=True),
                           dataset=dataset)
    rows = records.read_metrics(os.path.join(result['directory'],
                                             'metrics.jsonl'))
  return [float(r['examples_per_sec']) for r in rows
          if r.get('epoch', 0) >= 2 and 'examples_per_sec' in r]


# -- driver --------------------------------------------------------------------
def build_benches(args, full, base_cfg, mesh) -> List[Bench]:
  """The rows; each model trains on epochs of its own length (see MODELS)."""
  benches: List[Bench] = []
  programs: Dict[str, program_lib.Program] = {}
  subsets: Dict[int, tuple] = {}

  def epoch_data(model: str):
    """(steps, dataset, device data): the first steps x batch examples, so
    that one epoch is `steps` steps and its per-epoch work (the in-program
    shuffle) is amortized as in a full epoch."""
    steps = MODELS[model][2] if args.steps is None else args.steps
    steps = steps or len(full.train_y) // args.batch
    if steps not in subsets:
      n = steps * args.batch
      subset = dataclasses.replace(full, train_x=full.train_x[:n],
                                   train_y=full.train_y[:n])
      subsets[steps] = (subset, runner.to_device(subset, base_cfg, mesh))
    return (steps,) + subsets[steps]

  def program(model: str) -> program_lib.Program:
    # One Program per model, as the runner has per group: the one-member rows
    # and the loop rows share its compiled executables.
    if model not in programs:
      steps, dataset, _ = epoch_data(model)
      programs[model] = make_program(make_config(model, args.batch), dataset,
                                     mesh)
    return programs[model]

  for model in args.models:
    cfg = make_config(model, args.batch)
    name = MODELS[model][1]
    base = f'{name} naive-jax'
    driver = default_driver(cfg)
    steps, dataset, ddata = epoch_data(model)
    first = len(benches)
    benches.append(Bench(f'{name} engine ({driver})',
                         engine(program(model), cfg, dataset, ddata, 1,
                                'loop', driver), base))
    if driver != 'scan' and args.scan_check:
      # What the default replaced: the whole epoch as one lax.scan.
      benches.append(Bench(f'{name} engine (scan)',
                           engine(program(model), cfg, dataset, ddata, 1,
                                  'loop', 'scan'), base))
    if args.step_loop and driver == 'scan':
      benches.append(Bench(f'{name} dlexp step, Python loop',
                           step_loop(cfg, dataset, ddata, mesh, steps),
                           base))
    benches.append(Bench(base, naive_jax(cfg, dataset, steps)))
    if driver == 'scan':
      benches.append(Bench(f'{name} naive-jax (scan)',
                           naive_scan(cfg, dataset, steps), base))
    if args.torch_version and model in TORCH_SPECS:
      benches.append(Bench(
          f'{name} torch ({args.torch_threads} thread'
          f'{"s" if args.torch_threads > 1 else ""})',
          torch_bench(model, cfg, dataset, steps), base))
    for b in benches[first:]:
      b.steps, b.examples = steps, steps * args.batch
  for spec in args.vmap:
    model, members = spec.split(':')
    members = int(members)
    cfg = make_config(model, args.batch)
    driver = default_driver(cfg)
    steps, dataset, ddata = epoch_data(model)
    first = len(benches)
    name = f'{MODELS[model][1]} x{members} members ({driver})'
    loop = f'{name} loop'
    benches.append(Bench(f'{name} vmap',
                         engine(program(model), cfg, dataset, ddata, members,
                                'vmap', driver), loop))
    benches.append(Bench(loop, engine(program(model), cfg, dataset, ddata,
                                      members, 'loop', driver)))
    for b in benches[first:]:
      b.steps, b.examples = steps, steps * args.batch * members
  return benches


def benchmark_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
  """A benchmark script's command line: the first line of its docstring
  `doc` as the description, and --quick (a short run) as `quick_help` says;
  the script adds its own flags."""
  parser = argparse.ArgumentParser(
      description=doc.splitlines()[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help=quick_help)
  return parser


def parse_args():
  parser = benchmark_parser(
      __doc__, 'MLP 2x256 rows and small vmap checks (MLP x4, CNN x2) with '
      'few steps; < 1 minute')
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int,
                      help='steps of an epoch (one timed repeat of a member) '
                      'for every model; 0 = all 55,000 examples (default: '
                      'full epochs for the MLPs, 50 steps for the CNN and '
                      'LSTM; quick: 8)')
  parser.add_argument('--repeats', type=int, default=0,
                      help='timed repeats per row (default 5; quick 3)')
  parser.add_argument('--models', nargs='+', choices=list(MODELS),
                      help='models of the engine/baseline rows')
  parser.add_argument('--vmap', nargs='*', metavar='MODEL:MEMBERS',
                      help='vmap-vs-loop rows, e.g. mlp20x100:8 cnn:4')
  parser.add_argument('--torch-threads', type=int, default=1,
                      help='PyTorch intra-op threads (default 1: with 2 '
                      'OpenMP threads on a shared 2-core machine torch '
                      'collapsed to ~10%% of its 1-thread speed)')
  parser.add_argument('--slow-seconds', type=float, default=30.0,
                      help='rows whose warm-up (compile + one run) takes '
                      'longer are timed once, not --repeats times')
  parser.add_argument('--no-torch', dest='torch', action='store_false')
  parser.add_argument('--no-step-loop', dest='step_loop', action='store_false')
  parser.add_argument('--no-scan-check', dest='scan_check',
                      action='store_false',
                      help='skip the scan-driver rows of models whose default '
                      'epoch driver is step (conv nets on CPU; slow)')
  parser.add_argument('--no-runner', dest='runner', action='store_false',
                      help='skip the runner.run cross-check (4 full '
                      'epochs per MLP)')
  args = parser.parse_args()
  if args.quick:
    # Compiling dominates a short run: one small MLP, and two CNN members.
    args.steps = 8 if args.steps is None else args.steps
    args.repeats = args.repeats or 3
    args.models = args.models or ['mlp2x256']
    args.vmap = ['mlp2x256:4', 'cnn:2'] if args.vmap is None else args.vmap
    args.step_loop = args.runner = args.scan_check = False
  args.repeats = args.repeats or 5
  args.models = args.models or ['mlp20x100', 'mlp2x256', 'cnn', 'cnn-im2col']
  if args.vmap is None:
    args.vmap = ['mlp20x100:8', 'mlp2x256:8', 'cnn:4', 'lstm:4']
  args.torch_version = torch_setup(args.torch_threads) if args.torch else ''
  return args


def main():
  args = parse_args()
  start = time.perf_counter()
  cfg = config_lib.default_config()
  full = data_lib.load(cfg.data)
  if args.steps is not None and not (
      0 <= args.steps <= len(full.train_y) // args.batch):
    raise SystemExit(f'--steps={args.steps} not allowed; need 0 (a full '
                     f'epoch) .. {len(full.train_y) // args.batch}')
  mesh = Mesh(np.array(jax.devices()), ('data',))
  torch_note = (args.torch_version if args.torch_version else
                'skipped' if not args.torch else 'not importable (skipped)')
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  backend '
        f'{jax.default_backend()} x{len(jax.devices())}  cpus {os.cpu_count()}'
        f'  load {os.getloadavg()[0]:.1f}  torch {torch_note}')
  print(f'{full.name}, input {tuple(full.input_shape)}, batch {args.batch}; '
        f'an epoch of S steps trains on the first S x {args.batch} examples; '
        f'{args.repeats} repeats')

  benches = build_benches(args, full, cfg, mesh)
  # Compile and warm up (caches, allocator) first, then interleave repeats.
  timings = timing.interleave(
      {b.label: b.run for b in benches}, repeats=args.repeats,
      items={b.label: b.examples for b in benches},
      once_after_s=args.slow_seconds)
  for t in timings.values():
    print(f'  warm-up {t.label}: {t.warmup_s:.1f}s'
          f'{" (slow: timed once)" if t.warmup_s > args.slow_seconds else ""}')
  rates = {label: t.rate() for label, t in timings.items()}
  best = {label: (f'{t.best_rate():,.0f}' if len(t.wall_s) > 1
                  else '(1 repeat)') for label, t in timings.items()}
  cpu_rates = {label: t.cpu_rate() for label, t in timings.items()}
  per_cpu = {label: f'{r:,.0f}' for label, r in cpu_rates.items()}
  if args.runner:
    for model in args.models:
      if model.startswith('mlp'):
        name = MODELS[model][1]
        label = f'{name} runner.run (full epochs, with eval)'
        t0 = time.perf_counter()
        per = runner_throughput(make_config(model, args.batch), full,
                                RUNNER_EPOCHS)
        rates[label] = statistics.median(per)
        best[label] = f'{max(per):,.0f}'
        per_cpu[label] = '-'
        benches.append(Bench(label, lambda: 0, f'{name} naive-jax'))
        print(f'  {label}: {time.perf_counter() - t0:.1f}s', flush=True)

  print(f'\nload {os.getloadavg()[0]:.1f} at the end\n')
  rows = []
  for b in benches:
    ratio = (f'{rates[b.label] / rates[b.baseline]:.2f}x vs {b.baseline}'
             if b.baseline else 'baseline')
    rows.append([b.label, b.steps or '-', f'{rates[b.label]:,.0f}',
                 best[b.label], per_cpu[b.label], ratio])
  print(tables.markdown(['configuration', 'steps/epoch',
                         'examples/s (median)', 'best', 'per CPU-s',
                         'ratio (medians)'], rows, align='lrrrrl'))
  print()
  for spec in args.vmap:
    model, members = spec.split(':')
    family = make_config(model, args.batch).model.name
    friendly = models.MODELS.get(family).vmap_friendly
    name = (f'{MODELS[model][1]} x{members} members '
            f'({default_driver(make_config(model, args.batch))})')
    ratio = rates[f'{name} vmap'] / rates[f'{name} loop']
    cpu_ratio = cpu_rates[f'{name} vmap'] / cpu_rates[f'{name} loop']
    if abs(ratio - 1) < NEUTRAL:
      verdict = 'neutral: either mode is as fast'
    elif (ratio > 1) == friendly:
      verdict = 'agrees'
    else:
      verdict = f'DISAGREES: {"loop" if friendly else "vmap"} is faster'
    print(f"members='auto' picks {'vmap' if friendly else 'loop'} for "
          f'{family}; measured vmap/loop {ratio:.2f}x (per CPU-s '
          f'{cpu_ratio:.2f}x; {name}): {verdict}')
  print(f'total {time.perf_counter() - start:.0f}s')


if __name__ == '__main__':
  main()
