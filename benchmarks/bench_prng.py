"""What dropout costs a train step under each PRNG implementation
(config.rng_impl), and in PyTorch.

    .venv/bin/python benchmarks/bench_prng.py [--quick | --smoke]
        [--models 20x100 3x512] [--rate 0.3] [--steps 20] [--repeats 9]
        [--batch 128] [--torch-threads N] [--no-torch]

For each MLP (20x100, the notes' exercise net, and 3x512, the wide net of
experiments/dropout_rates.py) on Fashion-MNIST inputs (dlexp.data.load with
the default config), SGD with momentum 0.9, batch 128:

- dlexp, per impl (threefry, rbg, unsafe_rbg): one compiled program of S
  train steps (`Steps.train_step` in a lax.scan, as the engine's scan
  driver) of the model with a dropout layer after every hidden layer at
  --rate (traced, as in a grid), the group's Steps with only `rng_impl`
  changed; against the same model rebuilt without dropout layers
  (analysis.dropout.without_dropout), whose step draws nothing and is the
  same program under every impl (timed once per model);
- PyTorch, if `import torch` works (the optional `bench` extra): the same
  MLP with nn.Dropout(rate) after each hidden ReLU against none, one
  optimizer step per batch from a Python loop, in a child process (torch's
  and XLA's thread pools slow each other when they share one), with as many
  threads as XLA uses (--torch-threads, default: every core).

The ratio is the step time with dropout layers over without (medians of
interleaved repeats, dlexp.timing: a burst of load hits every program
alike); the best repeat (the least disturbed) and this process's CPU
time (it moves less with other processes' load, as long as nothing
spin-waits) are shown as gauges of the noise. A ratio of 2
doubles the step: the random masks (one draw and one multiply per unit per
layer) are then as costly as the whole network's forward and backward pass.
"""
import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from dlexp import tables, timing

IMPLS = ('threefry', 'rbg', 'unsafe_rbg')
DEFAULT_MODELS = ('20x100', '3x512')
INPUT = 28 * 28  # Fashion-MNIST, flattened by the MLP
CLASSES = 10


def parse_shape(text: str) -> Tuple[int, int]:
  m = re.fullmatch(r'(\d+)x(\d+)', text)
  if not m or min(int(m.group(1)), int(m.group(2))) < 1:
    raise SystemExit(f'--models: {text!r} is not DEPTHxWIDTH (e.g. 20x100)')
  return int(m.group(1)), int(m.group(2))


# -- dlexp ---------------------------------------------------------------------
def dlexp_programs(shape, rate: float, batch: int, steps: int, dataset,
                   mesh) -> Dict[str, object]:
  """label -> a callable running S compiled train steps: 'no dropout' and
  one per impl."""
  import jax
  import jax.numpy as jnp
  from dlexp import config as config_lib
  from dlexp.analysis.dropout import without_dropout
  from dlexp.train import program as program_lib
  cfg = config_lib.default_config()
  cfg.model.depth, cfg.model.width = shape
  cfg.model.dropout_rate = rate
  cfg.batch_size = batch
  cfg.diagnostics.every_epochs = 0
  config_lib.validate(cfg)
  base = program_lib.build(cfg, dataset, mesh).steps
  hp = {p: jnp.float32(config_lib.get(cfg, p))
        for p in config_lib.traced_fields()}
  xs = jnp.asarray(dataset.train_x[:steps * batch]).reshape(
      (steps, batch) + tuple(dataset.input_shape))
  ys = jnp.asarray(dataset.train_y[:steps * batch]).reshape(steps, batch)
  variants = {'no dropout': (base, without_dropout(base.model))}
  for impl in IMPLS:
    variants[impl] = (base, base.model)
  out = {}
  for label, (steps_obj, model) in variants.items():
    s = copy.copy(steps_obj)
    s.model = model
    s.rng_impl = IMPLS[0] if label == 'no dropout' else label
    state = jax.jit(s.init)(jnp.int32(0), xs[0][:1])

    def run(state, xs, ys, s=s):
      body = lambda st, b: (s.train_step(st, hp, *b)[0], None)
      return jax.lax.scan(body, state, (xs, ys))[0]

    compiled = jax.jit(run).lower(state, xs, ys).compile()
    out[label] = (lambda c=compiled, st=state: c(st, xs, ys))
  return out


# -- PyTorch (child process) ---------------------------------------------------
def torch_worker(request: Dict) -> Dict:
  """{shape: {'dropout': seconds, 'no dropout': seconds, ...}} of S steps,
  timed in this process (which imports torch, never jax's backend)."""
  import torch
  from torch import nn
  torch.set_num_threads(request['threads'])
  torch.manual_seed(0)
  b, s, rate = request['batch'], request['steps'], request['rate']
  x = torch.randn(s, b, INPUT)
  y = torch.randint(0, CLASSES, (s, b))
  out = {}
  for text in request['models']:
    depth, width = parse_shape(text)
    fns = {}
    for label, p in (('dropout', rate), ('no dropout', None)):
      layers, w = [], INPUT
      for _ in range(depth):
        layers += [nn.Linear(w, width), nn.ReLU()]
        layers += [nn.Dropout(p)] if p is not None else []
        w = width
      model = nn.Sequential(*layers, nn.Linear(w, CLASSES)).train()
      opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

      def run(model=model, opt=opt):
        for i in range(s):
          opt.zero_grad(set_to_none=True)
          nn.functional.cross_entropy(model(x[i]), y[i]).backward()
          opt.step()
      fns[label] = run
    t = timing.interleave(fns, repeats=request['repeats'],
                          sync=lambda _: None)
    out[text] = {k: dict(median=v.median_s, best=v.best_s,
                         cpu=v.cpu_median_s) for k, v in t.items()}
  out['version'] = torch.__version__
  return out


def torch_ratios(args) -> Tuple[Dict, str]:
  """(PyTorch's timings per shape, a note) from a child process; ({}, why)
  where torch does not import."""
  if not args.torch:
    return {}, 'torch not run (--no-torch)'
  probe = subprocess.run([sys.executable, '-c', 'import torch'],
                         capture_output=True, text=True, check=False)
  if probe.returncode:
    return {}, 'torch not installed'
  request = dict(models=args.models, rate=args.rate, batch=args.batch,
                 steps=args.steps, repeats=args.repeats,
                 threads=args.torch_threads)
  done = subprocess.run([sys.executable, os.path.abspath(__file__),
                         '--torch-worker', json.dumps(request)],
                        capture_output=True, text=True, check=False)
  if done.returncode:
    tail = (done.stderr.strip().splitlines() or ['?'])[-1]
    return {}, f'torch worker failed: {tail}'
  out = json.loads(done.stdout.strip().splitlines()[-1])
  return out, f'torch {out.pop("version")}, {args.torch_threads} threads'


# -- the table -----------------------------------------------------------------
def rows_of(shape_text: str, dl: Dict, torch_t: Dict, steps: int) -> List:
  """Table rows of one MLP: one per impl, then PyTorch's."""
  ms = lambda s: f'{1e3 * s / steps:.3f}'
  ratio = lambda a, b: f'{a / b:.2f}'
  base = dl['no dropout']
  rows = []
  for impl in IMPLS:
    t = dl[impl]
    rows.append([shape_text, f'dlexp {impl}', ms(t.median_s),
                 ms(base.median_s), ratio(t.median_s, base.median_s),
                 ratio(t.best_s, base.best_s),
                 ratio(t.cpu_median_s, base.cpu_median_s)])
  if shape_text in torch_t:
    t = torch_t[shape_text]
    d, n = t['dropout'], t['no dropout']
    rows.append([shape_text, 'PyTorch', ms(d['median']), ms(n['median']),
                 ratio(d['median'], n['median']), ratio(d['best'], n['best']),
                 ratio(d['cpu'], n['cpu'])])
  return rows


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--models', nargs='+', default=list(DEFAULT_MODELS),
                      help='MLP shapes DEPTHxWIDTH')
  parser.add_argument('--rate', type=float, default=0.3)
  parser.add_argument('--steps', type=int, default=20,
                      help='train steps per timed call')
  parser.add_argument('--repeats', type=int, default=9)
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--torch-threads', type=int, default=os.cpu_count())
  parser.add_argument('--no-torch', dest='torch', action='store_false')
  parser.add_argument('--quick', action='store_true',
                      help='3 repeats of 10 steps')
  parser.add_argument('--smoke', action='store_true',
                      help='seconds: a 2x16 MLP, 2 steps, 1 repeat, no torch')
  parser.add_argument('--torch-worker', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.quick:
    args.repeats, args.steps = 3, 10
  if args.smoke:
    args.models, args.steps, args.repeats, args.torch = ['2x16'], 2, 1, False
  for text in args.models:
    parse_shape(text)
  if not 0 < args.rate < 1:
    raise SystemExit(f'--rate={args.rate} not allowed; need 0 < rate < 1')
  if min(args.steps, args.repeats, args.batch, args.torch_threads) < 1:
    raise SystemExit('--steps, --repeats, --batch and --torch-threads must '
                     'be >= 1')
  return args


def main(argv: Sequence[str] = None) -> str:
  args = parse_args(argv)
  if args.torch_worker:
    print(json.dumps(torch_worker(json.loads(args.torch_worker))))
    return ''
  import jax
  import numpy as np
  from jax.sharding import Mesh
  from dlexp import config as config_lib
  from dlexp import data as data_lib
  start = time.perf_counter()
  # PyTorch first, alone: its threads and XLA's never run at once.
  torch_t, torch_note = torch_ratios(args)
  dataset = data_lib.load(config_lib.default_config().data)
  if args.steps * args.batch > len(dataset.train_y):
    raise SystemExit(f'--steps={args.steps} x --batch={args.batch} is more '
                     f'than the {len(dataset.train_y)} training examples')
  mesh = Mesh(np.array(jax.devices()), ('data',))
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  backend '
        f'{jax.default_backend()}  cpus {os.cpu_count()}  load '
        f'{os.getloadavg()[0]:.1f}  {torch_note}')
  rows = []
  for text in args.models:
    fns = dlexp_programs(parse_shape(text), args.rate, args.batch,
                         args.steps, dataset, mesh)
    dl = timing.interleave(fns, repeats=args.repeats)
    rows += rows_of(text, dl, torch_t, args.steps)
  table = tables.markdown(
      ['MLP', 'generator', 'step ms (dropout)', 'step ms (none)',
       'ratio (medians)', 'ratio (best)', 'ratio (CPU-s)'], rows,
      align='llrrrrr')
  print(table)
  print(f'rate {args.rate:g}, batch {args.batch}, {args.steps} steps per '
        f'call, {args.repeats} repeats; load {os.getloadavg()[0]:.1f} at the '
        f'end; total {time.perf_counter() - start:.0f}s')
  if not torch_t:
    print(f'PyTorch row: {torch_note}')
  return table


if __name__ == '__main__':
  main()
