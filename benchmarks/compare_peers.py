"""dlexp against PyTorch: same architectures, data, batch, optimizer, epochs.

    .venv/bin/python benchmarks/compare_peers.py            # full size
    .venv/bin/python benchmarks/compare_peers.py --quick    # about a minute
    .venv/bin/python benchmarks/compare_peers.py --no-torch # dlexp half only
        [--rows mlp cnn resnet20 grid process] [--repeats 5]
        [--slow-repeats 1] [--torch-threads 1] [--torch-device match]
        [--steps N]

PyTorch is the optional `bench` extra (`pip install -e .[bench]`); it runs
in a worker child process (benchmarks/peers_torch.py), never in the same
process as XLA. Fashion-MNIST with dlexp's split and standardization for
both, batch 128, SGD with momentum 0.9. PyTorch runs on the device dlexp
runs on (`--torch-device match`: CUDA when JAX's backend is a GPU), so the
same command compares CPU with CPU here and GPU with GPU on a GPU machine.
Rows (issue 9):

- mlp, cnn, resnet20: training throughput of one model (examples/s): an
  epoch of S steps (the row's own on CPU, a whole epoch on a GPU/TPU;
  --steps) over the first S x 128 training examples, as dlexp's
  runner drives it (program.run_epoch and its default epoch driver), against
  the same S steps of the PyTorch model. Compiled and warmed up first; the
  timed repeats of all these rows are interleaved.
- grid: the 15-member grid of the issue's table (5 learning rates x 3
  seeds, MLP 3x256, 3 epochs, validation every epoch, test at the end):
  dlexp as one command (runner.run, compilation included, with its default
  diagnostics, checkpoints and logs) against 15 sequential PyTorch runs in
  one process; seconds.
- process: whole-process time of a 3-epoch run including start-up and
  compilation: a fresh `python experiments/elu_vs_relu.py --activations=relu
  --epochs=3 --seeds=1` (MLP 20x100) against a fresh `python
  benchmarks/peers_torch.py` training the same MLP the same way; seconds.

Ratios divide dlexp's speed by PyTorch's (throughput / throughput, or
PyTorch's seconds / dlexp's): above 1, dlexp is faster. Per CPU-second
figures count all threads of the process that did the work.
"""
import dataclasses
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import jax
import jaxlib
import numpy as np
from jax.sharding import Mesh

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
# pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import bench_engine
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import tables, timing
from dlexp.train import program as program_lib
from dlexp.train import runner

GRID_LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
GRID_SEEDS = 3
GRID_MODEL = 'mlp3x256'
PROCESS_EPOCHS = 3


@dataclasses.dataclass(frozen=True)
class ModelRow:
  """A one-model throughput row: bench_engine.MODELS key, its PyTorch spec
  and steps per timed epoch (full, --quick)."""
  model: str
  torch_spec: Dict
  steps: int
  quick_steps: int


MODEL_ROWS = {
    'mlp': ModelRow('mlp3x256', {'name': 'mlp', 'hidden': [256] * 3}, 429,
                    20),
    'cnn': ModelRow('cnn', {'name': 'cnn'}, 50, 5),
    'resnet20': ModelRow('resnet20', {'name': 'resnet', 'depth': 20}, 10, 2),
}
ROWS = tuple(MODEL_ROWS) + ('grid', 'process')


@dataclasses.dataclass
class Result:
  label: str
  dlexp: timing.Timing
  torch: Optional[timing.Timing]
  seconds: bool  # a time (lower is better), else a rate


# -- one-model rows -----------------------------------------------------------
def model_rows(args, full, mesh, worker) -> List[Result]:
  fns, items, labels = {}, {}, {}
  for name in [r for r in args.rows if r in MODEL_ROWS]:
    row = MODEL_ROWS[name]
    steps = args.steps or _default_steps(args, row, len(full.train_y))
    cfg = bench_engine.make_config(row.model, args.batch)
    n = steps * args.batch
    if n > len(full.train_y):
      raise SystemExit(f'--steps={steps} x --batch={args.batch} = {n} '
                       f'examples; the training split has '
                       f'{len(full.train_y)}')
    subset = dataclasses.replace(full, train_x=full.train_x[:n],
                                 train_y=full.train_y[:n])
    ddata = runner.to_device(subset, cfg, mesh)
    prog = bench_engine.make_program(cfg, subset, mesh)
    driver = bench_engine.default_driver(cfg)
    fns[f'{name} dlexp'] = bench_engine.engine(prog, cfg, subset, ddata, 1,
                                               'loop', driver)
    items[f'{name} dlexp'] = items[f'{name} torch'] = n
    labels[name] = (f'{bench_engine.MODELS[row.model][1]}, one model '
                    f'(examples/s; {steps} steps, {driver} driver)')
    if worker:
      worker.setup(name, kind='train', spec=row.torch_spec, steps=steps,
                   batch=args.batch, data=args.data)
      fns[f'{name} torch'] = lambda name=name: worker.run(name)
  timings = timing.interleave(fns, repeats=args.repeats, items=items)
  return [Result(label, timings[f'{name} dlexp'],
                 timings.get(f'{name} torch'), False)
          for name, label in labels.items()]


def _default_steps(args, row: ModelRow, train_size: int) -> int:
  """The row's own steps on CPU; a whole epoch on a GPU/TPU, where the
  CPU's 10-50 steps take milliseconds and time the launch, not the chip."""
  if args.quick:
    return row.quick_steps
  return row.steps if jax.default_backend() == 'cpu' else (
      train_size // args.batch)


# -- grid and whole-process rows ----------------------------------------------
def grid_row(args, mesh, worker) -> Result:
  epochs = 1 if args.quick else 3
  data = {'train_limit': 2048} if args.quick else {}
  # The defaults a user gets (diagnostics, checkpoints every epoch).
  cfg = config_lib.default_config()
  cfg.model.update(bench_engine.MODELS[GRID_MODEL][0])
  cfg.data.update(data)
  cfg.batch_size, cfg.epochs, cfg.num_seeds = (args.batch, epochs,
                                               args.grid_seeds)
  dataset = data_lib.load(cfg.data)
  lrs = list(GRID_LEARNING_RATES[:args.grid_lrs])

  def dlexp_grid():
    with tempfile.TemporaryDirectory() as workdir:
      runner.run(cfg, {'optimizer.learning_rate': lrs}, workdir,
                 out=runner.Printer(quiet=True), dataset=dataset)
  fns = {'dlexp': dlexp_grid}
  if worker:
    worker.setup('grid', kind='fit', spec=MODEL_ROWS['mlp'].torch_spec,
                 data=data, epochs=epochs, learning_rates=lrs,
                 seeds=args.grid_seeds, batch=args.batch)
    fns['torch'] = lambda: worker.run('grid')
  timings = timing.interleave(fns, repeats=args.slow_repeats, warmup=0)
  members = len(lrs) * args.grid_seeds
  label = (f'grid: {members} members ({len(lrs)} learning rates x '
           f'{args.grid_seeds} seeds), MLP 3x256, {epochs} epoch'
           f'{"s" if epochs > 1 else ""} (s, compile included)')
  return Result(label, timings['dlexp'], timings.get('torch'), True)


def _subprocess(cmd: List[str]) -> Callable[[], timing.Measured]:
  """A callable running `cmd` in a fresh process: its wall and CPU time."""
  def run() -> timing.Measured:
    with tempfile.TemporaryDirectory() as workdir:
      argv = [a.replace('{workdir}', workdir) for a in cmd]
      before = resource.getrusage(resource.RUSAGE_CHILDREN)
      start = time.perf_counter()
      proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                            check=False)
      wall = time.perf_counter() - start
      after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
      raise RuntimeError(f'{" ".join(argv)} failed ({proc.returncode}):\n'
                         f'{proc.stderr[-2000:]}')
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime +
                                               before.ru_stime)
    return timing.Measured(wall, cpu)
  return run


def process_row(args) -> Result:
  epochs = 1 if args.quick else PROCESS_EPOCHS
  limit = 2048 if args.quick else 0
  dataset = args.data.get('name', 'fashion_mnist')
  dlexp_cmd = [sys.executable, 'experiments/elu_vs_relu.py',
               '--activations=relu', f'--epochs={epochs}', '--seeds=1',
               '--workdir={workdir}', f'--dataset={dataset}',
               f'--config.data.train_limit={limit}']
  torch_cmd = [sys.executable, 'benchmarks/peers_torch.py', '--model=mlp',
               '--depth=20', '--width=100', f'--epochs={epochs}',
               f'--threads={args.torch_threads}', f'--dataset={dataset}',
               f'--device={args.torch_device}',
               f'--train_limit={limit}']
  fns = {'dlexp': _subprocess(dlexp_cmd)}
  if args.torch:
    fns['torch'] = _subprocess(torch_cmd)
  timings = timing.interleave(fns, repeats=args.slow_repeats, warmup=0)
  label = (f'whole process: a {epochs}-epoch run of MLP 20x100, start-up '
           'and compile included (s)')
  return Result(label, timings['dlexp'], timings.get('torch'), True)


# -- report --------------------------------------------------------------------
def _figure(t: Optional[timing.Timing], seconds: bool) -> str:
  if t is None:
    return '-'
  if seconds:
    best = f' (best {t.best_s:,.1f})' if len(t.wall_s) > 1 else ''
    return f'{t.median_s:,.1f}{best}'
  return f'{t.rate():,.0f} (best {t.best_rate():,.0f})'


def _per_cpu(t: Optional[timing.Timing], seconds: bool) -> str:
  if t is None:
    return '-'
  return f'{t.cpu_median_s:,.1f} s' if seconds else f'{t.cpu_rate():,.0f}'


def table(results: List[Result]) -> str:
  rows = []
  for r in results:
    ratio = '-'
    if r.torch is not None:
      ratio = (r.torch.median_s / r.dlexp.median_s if r.seconds
               else r.dlexp.rate() / r.torch.rate())
      ratio = f'{ratio:.2f}x'
    rows.append([r.label, _figure(r.dlexp, r.seconds),
                 _figure(r.torch, r.seconds), ratio,
                 _per_cpu(r.dlexp, r.seconds), _per_cpu(r.torch, r.seconds)])
  return tables.markdown(
      ['row', 'dlexp', 'PyTorch', 'ratio', 'dlexp per CPU-s',
       'PyTorch per CPU-s'], rows, align='lrrrrr')


def machine() -> str:
  model = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      model = next(line.split(':', 1)[1].strip() for line in f
                   if line.startswith('model name'))
  except (OSError, StopIteration):
    pass
  return f'{os.cpu_count()} CPUs ({model})'


def parse_args(argv=None):
  parser = bench_engine.benchmark_parser(
      __doc__, 'few steps, 1 epoch on 2,048 examples for the grid and '
      'process rows; about a minute')
  parser.add_argument('--smoke', action='store_true',
                      help="--quick on dlexp's small synthetic dataset (8x8 "
                      'images; not the cnn row): checks that the script '
                      'runs, in seconds; the numbers mean nothing')
  parser.add_argument('--no-torch', dest='torch', action='store_false',
                      help="dlexp's half only (PyTorch not needed)")
  parser.add_argument('--rows', nargs='+', choices=ROWS, default=list(ROWS))
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--repeats', type=int, default=0,
                      help='timed repeats of the one-model rows (default 5; '
                      'quick 3)')
  parser.add_argument('--slow-repeats', type=int, default=1,
                      help='timed repeats of the grid and process rows')
  parser.add_argument('--grid-lrs', type=int, default=len(
      GRID_LEARNING_RATES), help='learning rates of the grid (first N)')
  parser.add_argument('--grid-seeds', type=int, default=GRID_SEEDS)
  parser.add_argument('--torch-device', default='match',
                      choices=('match', 'cpu', 'cuda'),
                      help="PyTorch's device; match: cuda when JAX's backend "
                      'is gpu, else cpu')
  parser.add_argument('--steps', type=int, default=0,
                      help='training steps per timed repeat of the one-model '
                      "rows (default: each row's own on CPU, a whole epoch "
                      '(429) on a GPU/TPU, where fewer time launch overhead)')
  parser.add_argument('--torch-threads', type=int, default=1,
                      help='PyTorch intra-op threads (default 1: with 2 '
                      'OpenMP threads on a shared 2-core machine PyTorch '
                      'collapsed to ~10%% of its speed under load)')
  args = parser.parse_args(argv)
  args.quick = args.quick or args.smoke
  args.repeats = args.repeats or (3 if args.quick else 5)
  args.data = {'name': 'synthetic'} if args.smoke else {}
  if args.torch_device == 'match':
    args.torch_device = 'cuda' if jax.default_backend() == 'gpu' else 'cpu'
  return args


def main(argv=None) -> str:
  args = parse_args(argv)
  start = time.perf_counter()
  worker = None
  versions = f'jax {jax.__version__}, jaxlib {jaxlib.__version__}'
  if args.torch:
    from benchmarks import peers_torch  # pylint: disable=import-outside-toplevel
    worker = peers_torch.Worker(args.torch_threads, args.torch_device)
    versions += (f', torch {worker.version} on {worker.device} '
                 f'({args.torch_threads} thread'
                 f'{"s" if args.torch_threads > 1 else ""})')
  else:
    versions += ', torch not run (--no-torch)'
  print(f'{time.strftime("%Y-%m-%d")}; {machine()}; {versions}; jax backend '
        f'{jax.default_backend()}; load {os.getloadavg()[0]:.1f}', flush=True)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  results = []
  try:
    if any(r in MODEL_ROWS for r in args.rows):
      data_cfg = data_lib.defaults()
      data_cfg.update(args.data)
      full = data_lib.load(data_cfg)
      results += model_rows(args, full, mesh, worker)
    if 'grid' in args.rows:
      results.append(grid_row(args, mesh, worker))
    if 'process' in args.rows:
      results.append(process_row(args))
  finally:
    if worker:
      worker.close()
  text = table(results)
  print(f'\nload {os.getloadavg()[0]:.1f} at the end; cells: median (best) '
        f'of {args.repeats} repeats ({args.slow_repeats} for the grid and '
        f'process rows); ratio > 1: dlexp faster\n')
  print(text)
  print(f'\ntotal {time.perf_counter() - start:.0f}s')
  return text


if __name__ == '__main__':
  main()
