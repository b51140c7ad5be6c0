"""Smoke runs of the experiment scripts as users run them: tiny models on the
synthetic dataset, checked for exit status, the printed table, the files and
numbers within sane bounds.
"""
import json
import math
import os
import re
import subprocess
import sys

import pytest

from conftest import member_dir

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


def _run_script(name, tmp_path):
  """(returncode, stdout, stderr, workdir) of one tiny run of `name`.

  One script per test, so pytest-xdist spreads them over its workers.
  """
  workdir = str(tmp_path / 'runs')
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', f'{name}.py'),
         f'--workdir={workdir}'] + TINY + SCRIPTS[name]
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  return proc.returncode, proc.stdout, proc.stderr, workdir


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


def _check(name, tmp_path, trials):
  code, out, err, workdir = _run_script(name, tmp_path)
  assert code == 0, err[-3000:]
  rows = _table(out)
  assert list(rows) == trials
  for trial, row in rows.items():
    assert row['seeds'] == '2' and row['status'] == 'done', row
    for seed in (0, 1):
      d = member_dir(workdir, trial, seed)
      for f in ('config.json', 'status.json', 'metrics.jsonl'):
        assert os.path.isfile(os.path.join(d, f)), (d, f)
    for col in ('val acc', 'test acc'):
      assert 0 <= _mean(row[col]) <= 1, (trial, col, row[col])
    assert 1 <= _mean(row['best epoch']) <= 2
  return rows, workdir


def _final(workdir, trial, seed=0):
  with open(os.path.join(member_dir(workdir, trial, seed), 'status.json')) as f:
    return json.load(f)['final']


def test_elu_vs_relu(tmp_path):
  rows, _ = _check('elu_vs_relu', tmp_path, ['activation=relu',
                                             'activation=elu'])
  for row in rows.values():
    assert 0 <= _mean(row['dead units @end']) <= 1


def test_init_schemes(tmp_path):
  trials = [f'kernel_init={i},bias_init={b}'
            for i in ('he_normal', 'orthogonal', 'constant')
            for b in ('0', '0.1')]
  rows, workdir = _check('init_schemes', tmp_path, trials)
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


def test_dropout_rates(tmp_path):
  rows, workdir = _check('dropout_rates', tmp_path,
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


@pytest.mark.parametrize('script,flags,message', [
    ('dropout_rates', ['--variant=spatial'],
     r"--variant=spatial .* model 'mlp'"),
    ('dropout_rates', ['--rates=0,x'], r"--rates: 'x' is not a float"),
    ('init_schemes', ['--inits=orthogonal', '--config.members=vmap'],
     r'--config.members=vmap with orthogonal init deadlocks'),
    ('init_schemes', ['--inits=he_normall'], r'did you mean .he_normal'),
])
def test_bad_input_is_a_one_line_error(tmp_path, script, flags, message):
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', f'{script}.py'),
         f'--workdir={tmp_path}'] + TINY + flags
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  assert proc.returncode == 2, proc.stderr[-2000:]
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and re.search(message, last), last
  assert 'Traceback' not in proc.stderr
