"""A rerun with other settings never prints, skips or resumes the results of
the old ones, and loses nothing already written (issue: stale tables)."""
import json
import os

import numpy as np

from conftest import run_cli, tiny_config
from dlexp import records, report
from dlexp.train import runner


def _run(config, workdir, lines=None, axes=None):
  out = lines.append if lines is not None else runner.Printer(quiet=True)
  return runner.run(config, axes or {}, str(workdir), out=out)


def _snapshot(workdir):
  """Every file under workdir (but locks and checkpoints) -> its bytes."""
  out = {}
  for root, _, files in os.walk(workdir):
    if '.checkpoints' in root:
      continue
    for f in files:
      if f != '.lock' and not f.startswith('events'):
        path = os.path.join(root, f)
        out[path] = open(path, 'rb').read()
  return out


def _kept(before, workdir):
  after = _snapshot(workdir)
  return all(after.get(path) == data for path, data in before.items())


def test_changed_traced_value_trains_anew_and_keeps_the_old_run(tmp_path):
  first = _run(tiny_config(epochs=1), tmp_path)
  before = _snapshot(tmp_path)
  lines = []
  second = _run(tiny_config(epochs=1, optimizer__learning_rate=0.2),
                tmp_path, lines)
  assert second[0]['directory'] != first[0]['directory']
  assert not any('already finished' in l for l in lines)
  assert any('epoch 1/1' in l for l in lines)  # it really trained
  assert second[0]['test_loss'] != first[0]['test_loss']
  assert _kept(before, tmp_path)
  # Both runs stay readable; the report tells them apart by settings.
  groups = report.by_trial(report.load_runs(str(tmp_path)))
  assert len(groups) == 2 and all(' [' in name for name in groups)
  legend = '\n'.join(report.settings_legend(groups))
  assert 'optimizer.learning_rate=0.05' in legend
  assert 'optimizer.learning_rate=0.2' in legend


def test_changed_static_values_train_anew(tmp_path):
  base = _run(tiny_config(epochs=1), tmp_path)[0]
  wide = _run(tiny_config(epochs=1, model__width=24), tmp_path)[0]
  longer = _run(tiny_config(epochs=2), tmp_path)[0]
  assert len({base['directory'], wide['directory'], longer['directory']}) == 3
  assert longer['epochs_run'] == 2
  rows = records.read_metrics(os.path.join(base['directory'], 'metrics.jsonl'))
  assert [r['epoch'] for r in rows] == [0, 1]  # the 1-epoch run is intact


def test_more_seeds_reuse_the_finished_ones(tmp_path):
  one = _run(tiny_config(epochs=1), tmp_path)
  before = _snapshot(tmp_path)
  lines = []
  two = _run(tiny_config(epochs=1, num_seeds=2), tmp_path, lines)
  assert two[0]['directory'] == one[0]['directory']
  assert two[0]['test_loss'] == one[0]['test_loss']
  assert any('1 member(s) already finished' in l for l in lines)
  assert any('[run] 1 member(s)' in l for l in lines)  # only seed 1 trains
  assert _kept(before, tmp_path)


def test_other_dataset_trains_anew(tmp_path):
  images = _run(tiny_config(epochs=1), tmp_path)[0]
  vectors = _run(tiny_config(epochs=1, data__name='synthetic_vector'),
                 tmp_path)[0]
  assert images['directory'] != vectors['directory']
  cfg = json.load(open(os.path.join(vectors['directory'], 'config.json')))
  assert cfg['config']['data.name'] == 'synthetic_vector'


def test_interrupted_run_relaunched_with_other_settings_starts_fresh(
    tmp_path):
  first = _run(tiny_config(epochs=3), tmp_path)[0]
  status_path = os.path.join(first['directory'], 'status.json')
  status = json.load(open(status_path))
  status['status'] = 'interrupted'  # as after a crash
  records.write_json(status_path, status)
  before = _snapshot(tmp_path)
  checkpoints = sorted(os.listdir(tmp_path / '.checkpoints'))
  lines = []
  other = _run(tiny_config(epochs=3, optimizer__learning_rate=0.2), tmp_path,
               lines)[0]
  assert not any('resuming' in l for l in lines)
  assert other['directory'] != first['directory']
  assert json.load(open(status_path))['status'] == 'interrupted'
  assert _kept(before, tmp_path)
  assert set(checkpoints) < set(os.listdir(tmp_path / '.checkpoints'))
  # The same settings again do resume the interrupted run.
  lines = []
  again = _run(tiny_config(epochs=3), tmp_path, lines)[0]
  assert again['directory'] == first['directory']
  assert any('resuming after epoch 3' in l for l in lines)
  np.testing.assert_allclose(again['test_loss'], first['test_loss'],
                             rtol=1e-6)


def test_script_prints_only_the_asked_settings(tmp_path):
  """The user's report: the same command with another learning rate printed
  the first run's table as its own."""
  def table(*extra):
    cmd = ['experiments/elu_vs_relu.py', '--dataset=synthetic',
           '--activations=relu', '--seeds=1', '--epochs=1',
           '--config.data.train_limit=1024', '--config.model.depth=2',
           '--config.model.width=8', f'--workdir={tmp_path}', *extra]
    proc = run_cli(cmd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [l for l in proc.stdout.splitlines() if l.startswith('| activ')]
  first = table()
  second = table('--config.optimizer.learning_rate=0.5')
  assert len(first) == len(second) == 1
  assert first != second


def test_rerender_keeps_the_wall_time_of_the_runs(tmp_path):
  """A rerun that finds every run finished only re-renders the table: its
  findings record keeps the training invocation's wall time, not its own
  few seconds."""
  cmd = ['experiments/elu_vs_relu.py', '--dataset=synthetic',
         '--activations=relu', '--seeds=1', '--epochs=1',
         '--config.data.train_limit=1024', '--config.model.depth=2',
         '--config.model.width=8', f'--workdir={tmp_path}']

  def record():
    proc = run_cli(cmd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = [n for n in os.listdir(os.path.join(tmp_path, 'findings'))
             if n.endswith('.json')]
    assert len(names) == 1, names
    return json.load(open(os.path.join(tmp_path, 'findings', names[0])))
  first = record()
  assert first['reused_runs'] == 0 and first['wall_seconds'] > 0
  second = record()
  assert second['wall_seconds'] == first['wall_seconds']
  assert second['reused_runs'] == 0
