"""Compile time of one group, cold and from the persistent cache.

    .venv/bin/python benchmarks/bench_compile.py [--cases mlp20x100:3 ...]

Each case runs one epoch of a small slice of Fashion-MNIST (so training adds
little) in a fresh process, three times: with the compilation cache off
(cold), into an empty cache directory (cold, writing it), and again (warm:
every program loaded from the cache). Printed per case: the runner's compile
time (tracing + lowering + compiling all programs of the group, as written in
status.json) for each, per program, and the whole process's wall time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dlexp import tables  # pylint: disable=g-import-not-at-top,wrong-import-position

# name -> (config overrides, description)
CASES = {
    'mlp20x100': (dict(model__depth=20, model__width=100), 'MLP 20x100'),
    'mlp3x256': (dict(model__depth=3, model__width=256), 'MLP 3x256'),
    'cnn': (dict(model__name='cnn'), 'CNN (32-64-128)'),
    'lstm': (dict(model__name='lstm'), 'LSTM 128'),
}

_WORKER = r'''
import json, sys
from dlexp import config as config_lib
from dlexp.train import runner
cfg = config_lib.default_config()
overrides, members, cache = json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for k, v in overrides.items():
  config_lib.set_value(cfg, k.replace('__', '.'), v)
cfg.epochs, cfg.num_seeds, cfg.compile_cache = 1, members, cache
cfg.data.train_limit = 1280  # 10 steps: the compile is what is measured
res = runner.run(cfg, {}, sys.argv[1], out=runner.Printer(quiet=True))
status = json.load(open(res[0]['directory'] + '/status.json'))
print(json.dumps([status['compile_seconds'],
                  status['compile_seconds_by_program']]))
'''


def measure(case: str, members: int, cache: str, workdir: str):
  overrides = CASES[case][0]
  start = time.perf_counter()
  proc = subprocess.run(
      [sys.executable, '-c', _WORKER, workdir, json.dumps(overrides),
       str(members), cache], cwd=ROOT, capture_output=True, text=True,
      check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
          [ROOT] + [p for p in [os.environ.get('PYTHONPATH')] if p])))
  wall = time.perf_counter() - start
  if proc.returncode:
    raise SystemExit(proc.stderr)
  total, by_program = json.loads(proc.stdout.strip().splitlines()[-1])
  return total, by_program, wall


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--cases', nargs='+',
                      default=['mlp20x100:3', 'mlp3x256:1', 'cnn:1'],
                      help='MODEL:MEMBERS, MODEL one of ' + ', '.join(CASES))
  args = parser.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  cpus '
        f'{os.cpu_count()}  load {os.getloadavg()[0]:.1f}')
  rows, detail = [], []
  for spec in args.cases:
    case, members = spec.split(':')
    with tempfile.TemporaryDirectory() as tmp:
      cache = os.path.join(tmp, 'cache')
      runs = {'off': measure(case, int(members), 'off', f'{tmp}/a'),
              'cold': measure(case, int(members), cache, f'{tmp}/b'),
              'cached': measure(case, int(members), cache, f'{tmp}/c')}
    name = f'{CASES[case][1]}, {members} member(s)'
    rows.append([name] + [f'{runs[k][0]:.2f}' for k in runs]
                + [f'{runs["off"][2]:.1f} / {runs["cached"][2]:.1f}'])
    for program in runs['off'][1]:
      detail.append([name, program] + [f'{runs[k][1].get(program, 0):.2f}'
                                         for k in runs])
  print(f'\nload {os.getloadavg()[0]:.1f} at the end\n')
  print(tables.markdown(
      ['group', 'compile s, cache off', 'cold, writing cache',
       'from cache', 'process wall s (off / cached)'], rows))
  print()
  print(tables.markdown(['group', 'program', 'off', 'cold', 'cached'],
                        detail))


if __name__ == '__main__':
  main()
