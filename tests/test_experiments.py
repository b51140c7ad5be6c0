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


def _run_script(name, tmp_path, extra=()):
  """(returncode, stdout, stderr, workdir) of one tiny run of `name`.

  One script per test, so pytest-xdist spreads them over its workers.
  """
  workdir = str(tmp_path / 'runs')
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', f'{name}.py'),
         f'--workdir={workdir}'] + TINY + SCRIPTS[name] + list(extra)
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
    for col in ('dead @end', 'never-positive @end'):
      assert 0 <= _mean(row[col]) <= 1
  # An ELU unit is never dead (its derivative is positive everywhere).
  assert _mean(rows['activation=elu']['dead @end']) == 0


def test_init_schemes(tmp_path):
  trials = [f'kernel_init={i},bias_init={b}'
            for i in ('he_normal', 'orthogonal', 'constant')
            for b in ('0', '0.1')]
  rows, workdir = _check('init_schemes', tmp_path, trials)
  for trial, row in rows.items():
    for pos in ('first', 'mid', 'last'):
      assert 0 < _mean(row[f'act std {pos} @init']) < 1e3, (trial, pos)
    assert 0 <= _mean(row['dead @ep1']) <= 1
    # For ReLU a dead unit is never positive; not every such unit is dead.
    assert _mean(row['dead @ep1']) <= _mean(row['never-positive @ep1'])
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
    # Prediction time: inverted dropout is the identity at inference (the
    # same traced program); 3 MC passes cost more than one prediction.
    assert _mean(row['predict ms']) > 0
    assert 0.2 < _mean(row['predict/no-drop']) < 5
    assert _mean(row['MC cost']) > 1
    assert _final(workdir, trial)['predict_same_program'] == 1.0
  record_dir = os.path.join(workdir, 'findings')
  record = [n for n in os.listdir(record_dir) if n.endswith('.json')][0]
  with open(os.path.join(record_dir, record)) as f:
    verdicts = {c['quote']: c for c in json.load(f)['claims']}
  inference = [c for q, c in verdicts.items() if 'slow down inference' in q]
  assert inference[0]['verdict'] == 'supported', inference
  assert 'is the same as without them' in inference[0]['evidence']


def test_mnist1d_runs_with_its_defaults(tmp_path):
  """No --config.data.val_size: the validation split is sized for the
  dataset (400 of MNIST-1D's 4000), where 5000 used to stop every run."""
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', 'elu_vs_relu.py'),
         f'--workdir={tmp_path}', '--dataset=mnist1d', '--activations=relu',
         '--config.model.depth=1', '--config.model.width=8', '--epochs=1',
         '--seeds=1']
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert '3600 train / 400 val / 1000 test' in proc.stdout


def test_config_form_of_a_shortcut_flag_is_kept(tmp_path):
  """--config.epochs / --config.num_seeds without --epochs / --seeds: the
  values given are used (they used to be replaced by the flags' defaults)."""
  tiny = [a for a in TINY if not a.startswith(('--epochs', '--seeds'))]
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', 'elu_vs_relu.py'),
         f'--workdir={tmp_path}', '--activations=relu', '--config.epochs=1',
         '--config.num_seeds=1'] + tiny
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'model mlp, 1 epochs, seeds 0..0' in proc.stdout
  assert _table(proc.stdout)['activation=relu']['seeds'] == '1'


@pytest.mark.parametrize('script,flags,message', [
    ('dropout_rates', ['--variant=spatial'],
     r"variant 'spatial' .* model 'mlp'"),
    # The --config form of --variant reaches the script (it used to be
    # replaced by --variant's default, 'standard', and the run went on).
    ('dropout_rates', ['--config.model.dropout=spatial'],
     r"variant 'spatial' .* model 'mlp'"),
    ('dropout_rates', ['--variant=alpha', '--config.model.dropout=classic'],
     r'--variant=alpha and --config.model.dropout=classic disagree'),
    ('dropout_rates', ['--config.model.dropout_rate=0.2'],
     r'--config.model.dropout_rate=0.2 is overridden by the ablated axis '
     r'model.dropout_rate \(0.0, 0.1, .*\); set it with --rates'),
    ('dropout_rates', ['--rates=0,x'], r"--rates: 'x' is not a float"),
    ('init_schemes', ['--inits=orthogonal', '--config.members=vmap'],
     r'--config.members=vmap with orthogonal init deadlocks'),
    ('init_schemes', ['--inits=he_normall'], r'did you mean .he_normal'),
    ('init_schemes', ['--config.model.bias_init=0.5'],
     r'--config.model.bias_init=0.5 is overridden .* --bias_inits'),
    # A setting that a part of a script fixes is not silently replaced.
    ('loss_functions', [],  # TINY's --dataset=synthetic
     r"--dataset=synthetic is set by part 'regression, clean targets' .*"
     r"\(to 'diabetes'\)"),
    ('batch_norm', ['--model=cnn'], r"--model=cnn is set by part 'deep MLP'"),
    ('rnn_dropout', ['--model=gru'], r'--model=gru: .* --cells'),
    ('early_stopping', ['--config.early_stopping.patience=3'],
     r'overridden by the ablated axis early_stopping.patience .* '
     r'--patiences'),
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


# -- the ablation suite II, at their --smoke size (as CI runs them) -------------
VERDICT = re.compile(r'^- \[(\d{3} [QG]\d+)\] ".*": (SUPPORTED|CONTRADICTED|'
                     r'DEPENDS|INCONCLUSIVE) - \S')


def _smoke(name, tmp_path, claims: int, extra=()):
  """Runs `name` at --smoke; checks the exit status, one verdict line per
  claim, the findings record and that FINDINGS.md builds from it. Returns
  (stdout, workdir)."""
  workdir = str(tmp_path / 'runs')
  cmd = [sys.executable, os.path.join(ROOT, 'experiments', f'{name}.py'),
         f'--workdir={workdir}', '--smoke'] + list(extra)
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                        timeout=TIMEOUT_S)
  assert proc.returncode == 0, proc.stderr[-3000:]
  verdicts = [l for l in proc.stdout.splitlines() if l.startswith('- [')]
  assert len(verdicts) == claims, verdicts
  for line in verdicts:
    assert VERDICT.match(line), line
  records = os.listdir(os.path.join(workdir, 'findings'))
  assert any(r.startswith(f'{name}-') and r.endswith('.json')
             for r in records), records
  out = tmp_path / 'FINDINGS.md'
  built = subprocess.run([sys.executable, '-m', 'dlexp.findings', workdir,
                          '--write', str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=TIMEOUT_S)
  assert built.returncode == 0, built.stderr[-2000:]
  assert f'experiments/{name}.py' in out.read_text()
  return proc.stdout, workdir


def _tables(stdout: str):
  """Every printed markdown table, as {trial: {header: cell}}, merged."""
  rows, header = {}, None
  for line in stdout.splitlines():
    if not line.startswith('|'):
      header = None
      continue
    cells = [c.strip() for c in line.strip('|').split('|')]
    if header is None:
      header = cells
    elif not set(line) <= set('|-'):
      rows.setdefault(cells[0], []).append(dict(zip(header, cells)))
  return rows


def test_early_stopping_smoke(tmp_path):
  out, _ = _smoke('early_stopping', tmp_path, claims=4)
  rows = {k: v[0] for k, v in _tables(out).items()}
  assert list(rows) == ['patience=0', 'patience=2,min_delta=0']
  end, stop = rows['patience=0'], rows['patience=2,min_delta=0']
  assert _mean(end['epochs run']) == 8 and end['stop epoch'] == 'n/a'
  assert _mean(stop['epochs run']) <= 8
  assert _mean(stop['saved']) == pytest.approx(8 - _mean(stop['epochs run']))
  for row in rows.values():
    for col in ('test acc (restore)', 'test acc (no restore)'):
      assert 0.1 <= _mean(row[col]) <= 1
    assert _mean(row['restore gain']) == pytest.approx(
        _mean(row['test acc (restore)']) - _mean(row['test acc (no restore)']),
        abs=2e-4)


def test_sparsity_smoke(tmp_path):
  out, _ = _smoke('sparsity', tmp_path, claims=4)
  rows = {k: v[0] for k, v in _tables(out).items()}
  assert list(rows) == ['l1=0', 'l1=0.001', 'l1_method=proximal,l1=0.001',
                        'dropout_rate=0.5',
                        'prune_method=one_shot,prune_sparsity=0.9',
                        'prune_method=gradual,prune_sparsity=0.9']
  for name in ('l1=0', 'l1=0.001', 'dropout_rate=0.5'):
    assert _mean(rows[name]['zero %']) == 0, name  # SGD: no exact zeros
  # Pruned to 90%: 90% exact zeros (the last epoch's weights), CSR smaller.
  for method in ('one_shot', 'gradual'):
    row = rows[f'prune_method={method},prune_sparsity=0.9']
    assert _mean(row['zero %']) == pytest.approx(90, abs=0.2)
    assert _mean(row['size ratio']) < 0.3
  assert _mean(rows['l1=0']['size ratio']) == pytest.approx(2, abs=0.05)
  drop = rows['dropout_rate=0.5']
  assert _mean(drop['act zero % train']) > _mean(
      drop['act zero % inference']) + 10


def test_loss_functions_smoke(tmp_path):
  pytest.importorskip('sklearn', reason='the regression parts read the '
                      "diabetes data from scikit-learn (extra 'regression')")
  out, _ = _smoke('loss_functions', tmp_path, claims=4)
  tables = _tables(out)
  # The same trial names in several parts: one table each.
  assert [len(tables[n]) for n in ('name=cross_entropy', 'name=mse',
                                   'name=mae')] == [2, 3, 2]
  ce = tables['name=cross_entropy']
  assert 0 <= _mean(ce[0]['ECE']) <= 1
  assert _mean(ce[1]['balanced acc']) > 0.1
  assert 0 <= _mean(ce[1]['minority recall']) <= 1
  for row in tables['name=mae'] + tables['name=mse'][1:]:
    assert 0 < _mean(row['test MAE']) < 5 and 0 < _mean(row['test MSE']) < 25
  assert any(k.startswith('class_weights=') for k in tables)


def test_batch_norm_smoke(tmp_path):
  out, _ = _smoke('batch_norm', tmp_path, claims=5)
  rows = {k: v[0] for k, v in _tables(out).items()}
  assert list(rows) == [
      'norm=none,learning_rate=0.03', 'norm=none,learning_rate=1',
      'norm=batch,norm_position=before,learning_rate=0.03',
      'norm=batch,norm_position=before,learning_rate=1',
      'norm=batch,norm_position=after,learning_rate=0.03',
      'norm=batch,norm_position=after,learning_rate=1',
      'norm=none,init_gain=2', 'norm=batch,norm_position=before,init_gain=2']
  none = rows['norm=none,learning_rate=0.03']
  assert none['gamma'] == 'n/a' and _mean(none['BN gap']) == 0
  bn = rows['norm=batch,norm_position=before,learning_rate=0.03']
  assert 0.5 < _mean(bn['gamma']) < 1.5 and _mean(bn['gamma sd']) > 0


def test_rnn_dropout_smoke(tmp_path):
  out, _ = _smoke('rnn_dropout', tmp_path, claims=3)
  rows = {k: v[0] for k, v in _tables(out).items()}
  assert list(rows) == ['name=lstm,dropout=standard,dropout_rate=0',
                        'name=lstm,dropout=standard,dropout_rate=0.25',
                        'name=lstm,dropout=variational,dropout_rate=0.25']
  for row in rows.values():
    assert 0 <= _mean(row['train acc']) <= 1
    assert _mean(row['gap']) == pytest.approx(
        _mean(row['train acc']) - _mean(row['val acc']), abs=2e-4)

