"""Smoke runs of the experiment scripts as users run them: tiny models on the
synthetic dataset, checked for exit status, the printed table, the files and
numbers within sane bounds.

The three scripts start together (each is mostly compile time, one process
each) and every test reads one script's finished output.
"""
import json
import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--dataset=synthetic', '--config.model.depth=2',
        '--config.model.width=16', '--config.data.train_limit=1024',
        '--config.data.val_size=500', '--epochs=2', '--seeds=2']
SCRIPTS = {
    'elu_vs_relu': ['--activations=relu,elu'],
    'init_schemes': ['--inits=he_normal,orthogonal,constant',
                     '--bias_inits=0,0.1'],
    'dropout_rates': ['--rates=0,0.3', '--mc_samples=3'],
}
TIMEOUT_S = 300


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
  """name -> (returncode, stdout, stderr, workdir), all run concurrently."""
  procs = {}
  for name, flags in SCRIPTS.items():
    base = tmp_path_factory.mktemp(name)
    workdir = str(base / 'runs')
    cmd = [sys.executable, os.path.join(ROOT, 'experiments', f'{name}.py'),
           f'--workdir={workdir}'] + TINY + flags
    # Files, not pipes: a full pipe would stall a script while the fixture
    # waits on another one.
    logs = [open(base / 'stdout', 'w+'), open(base / 'stderr', 'w+')]
    procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=logs[0],
                                    stderr=logs[1], text=True), logs, workdir)
  done = {}
  for name, (proc, logs, workdir) in procs.items():
    proc.wait(timeout=TIMEOUT_S)
    texts = []
    for f in logs:
      f.seek(0)
      texts.append(f.read())
      f.close()
    done[name] = (proc.returncode, texts[0], texts[1], workdir)
  return done


def _table(stdout: str):
  """The printed markdown table as {trial: {header: cell}}."""
  lines = [l for l in stdout.splitlines() if l.startswith('|')]
  header = [c.strip() for c in lines[0].strip('|').split('|')]
  rows = {}
  for line in lines[2:]:
    cells = [c.strip() for c in line.strip('|').split('|')]
    rows[cells[0]] = dict(zip(header, cells))
  return rows


def _mean(cell: str) -> float:
  return float(cell.split('±')[0])


def _check(outputs, name, trials):
  code, out, err, workdir = outputs[name]
  assert code == 0, err[-3000:]
  rows = _table(out)
  assert list(rows) == trials
  for trial, row in rows.items():
    assert row['seeds'] == '2' and row['status'] == 'done', row
    for seed in (0, 1):
      d = os.path.join(workdir, trial, f'seed_{seed}')
      for f in ('config.json', 'status.json', 'metrics.jsonl'):
        assert os.path.isfile(os.path.join(d, f)), (d, f)
    for col in ('val acc', 'test acc'):
      assert 0 <= _mean(row[col]) <= 1, (trial, col, row[col])
    assert 1 <= _mean(row['best epoch']) <= 2
  return rows, workdir


def _final(workdir, trial, seed=0):
  with open(os.path.join(workdir, trial, f'seed_{seed}', 'status.json')) as f:
    return json.load(f)['final']


def test_elu_vs_relu(outputs):
  rows, _ = _check(outputs, 'elu_vs_relu', ['activation=relu',
                                            'activation=elu'])
  for row in rows.values():
    assert 0 <= _mean(row['dead units @end']) <= 1


def test_init_schemes(outputs):
  trials = [f'kernel_init={i},bias_init={b}'
            for i in ('he_normal', 'orthogonal', 'constant')
            for b in ('0', '0.1')]
  rows, workdir = _check(outputs, 'init_schemes', trials)
  for trial, row in rows.items():
    for pos in ('first', 'mid', 'last'):
      assert 0 < _mean(row[f'act std {pos} @init']) < 1e3, (trial, pos)
    assert 0 <= _mean(row['dead @ep1']) <= 1
    assert _final(workdir, trial)['distinct_units'] == (
        1 if 'constant' in trial else 16)
  he = rows['kernel_init=he_normal,bias_init=0']
  assert _mean(he['distinct units L1']) == 16
  assert _mean(he['spread L1']) > 0.5
  const = rows['kernel_init=constant,bias_init=0']
  assert _mean(const['distinct units L1']) == 1
  assert _mean(const['spread L1']) < 1e-3


def test_dropout_rates(outputs):
  rows, workdir = _check(outputs, 'dropout_rates',
                         ['dropout_rate=0', 'dropout_rate=0.3'])
  for trial, row in rows.items():
    rate = 0.3 if trial.endswith('0.3') else 0.0
    assert abs(_mean(row['dropped %']) - 100 * rate) < 1.5, row
    for col in ('train acc (drop on)', 'train acc', 'MC test acc'):
      assert 0 <= _mean(row[col]) <= 1, (trial, col)
    assert -1 <= _mean(row['gap']) <= 1
    assert 0.2 < _mean(row['step/no-drop']) < 10
    assert 0 < _mean(row['logit scale on/off']) < 100
    assert _mean(row['step ms']) > 0
    assert 0 <= _mean(row['MC entropy']) <= math.log(10) + 1e-3
    gaps = [_final(workdir, trial, s)['clean_train_accuracy']
            - _final(workdir, trial, s)['val_accuracy'] for s in (0, 1)]
    assert sum(gaps) / 2 == pytest.approx(_mean(row['gap']), abs=1e-3)


def test_spatial_dropout_on_the_mlp_is_a_one_line_error(tmp_path):
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', 'dropout_rates.py'),
         f'--workdir={tmp_path}', '--variant=spatial'] + TINY
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert re.match(r"error: --variant=spatial .* model 'mlp'", lines[-1])
  assert 'Traceback' not in proc.stderr
