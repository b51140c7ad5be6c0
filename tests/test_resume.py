"""Preemption and resume: SIGKILL at random epochs, SIGTERM, corrupt and
mismatching checkpoints, locks, and sweeps that skip finished members."""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import member_dir, tiny_config
from dlexp import optim
from dlexp import records
from dlexp import grid as grid_lib
from dlexp.errors import DlexpError
from dlexp.train import checkpoint as checkpoint_lib
from dlexp.train import runner
from dlexp.train import state as state_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET = runner.Printer(quiet=True)
# A small but not instant run: 8 epochs of ~150 steps, 2 seeds vmapped.
ARGS = ['--dataset=synthetic', '--activations=relu', '--epochs=8', '--seeds=2',
        '--config.model.depth=2', '--config.model.width=32',
        '--config.data.val_size=500', '--config.batch_size=64',
        '--config.diagnostics.every_epochs=0']


class _Run:
  """A launched experiment whose output goes to files (no pipe to fill)."""

  def __init__(self, workdir):
    os.makedirs(workdir, exist_ok=True)
    self.out_path = f'{workdir}.out'
    self.err_path = f'{workdir}.err'
    with open(self.out_path, 'w') as out, open(self.err_path, 'w') as err:
      self.proc = subprocess.Popen(
          [sys.executable, 'experiments/elu_vs_relu.py',
           f'--workdir={workdir}'] + ARGS, cwd=ROOT, stdout=out, stderr=err)

  def wait(self, timeout):
    return self.proc.wait(timeout=timeout)

  def poll(self):
    return self.proc.poll()

  def send_signal(self, sig):
    self.proc.send_signal(sig)

  def communicate(self, timeout):
    self.proc.wait(timeout=timeout)
    return open(self.out_path).read(), open(self.err_path).read()

  @property
  def returncode(self):
    return self.proc.returncode


def _launch(workdir):
  return _Run(workdir)


def _epochs_logged(workdir):
  """Epoch lines seed 0 has logged so far (0 before its directory exists)."""
  found = glob.glob(os.path.join(str(workdir), 'activation=relu', '*',
                                 'seed_0', 'metrics.jsonl'))
  return len(records.read_metrics(found[0])) if found else 0


def _final(workdir):
  out = {}
  for seed in (0, 1):
    d = member_dir(workdir, 'activation=relu', seed)
    status = json.load(open(os.path.join(d, 'status.json')))
    rows = records.read_metrics(os.path.join(d, 'metrics.jsonl'))
    out[seed] = (status, rows)
  return out


def _assert_same_run(a, b):
  for seed in (0, 1):
    (sa, ra), (sb, rb) = a[seed], b[seed]
    assert sa['status'] == sb['status'] == 'done'
    assert [r['epoch'] for r in rb] == list(range(9))  # each epoch once
    for key in ('val_loss', 'train_loss', 'learning_rate'):
      # Bitwise on CPU: same compiled program, same keys, same data order.
      assert [r.get(key) for r in ra] == [r.get(key) for r in rb], key
    for key in ('test_loss', 'test_accuracy', 'val_loss', 'best_epoch'):
      assert sa['final'][key] == sb['final'][key], key


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  """The reference: the same command, never interrupted."""
  reference = tmp_path_factory.mktemp('reference') / 'run'
  proc = _launch(reference)
  assert proc.wait(timeout=300) == 0, proc.communicate(1)[1]
  return _final(reference)


def test_sigkill_at_random_epochs_then_resume_equals_uninterrupted(
    tmp_path, uninterrupted):
  expected = uninterrupted

  work = tmp_path / 'killed'
  rng = random.Random(0)
  kills = 0
  for _ in range(3):
    target = rng.randint(1, 6)  # kill once this many epoch lines exist
    proc = _launch(work)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
      if _epochs_logged(work) >= target + 1:  # +1: the epoch-0 line
        proc.send_signal(signal.SIGKILL)
        kills += 1
        break
      time.sleep(0.02)
    proc.wait(timeout=60)
  assert kills >= 2  # the run was really interrupted, more than once
  proc = _launch(work)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err
  _assert_same_run(_final(work), expected)


def test_sigterm_checkpoints_then_resumes(tmp_path, uninterrupted):
  work = tmp_path / 'term'
  proc = _launch(work)
  while proc.poll() is None and _epochs_logged(work) < 3:
    time.sleep(0.02)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signal.SIGTERM, err
  assert 'relaunch the same command to resume' in err
  status = json.load(open(os.path.join(member_dir(work, 'activation=relu', 0), 'status.json')))
  assert status['status'] == 'interrupted'
  proc = _launch(work)
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err
  assert 'resuming after epoch' in out
  _assert_same_run(_final(work), uninterrupted)


def _interrupt(workdir):
  """Marks every member of a finished run as interrupted (as after a crash)."""
  for d in records.find_runs(str(workdir)):
    status = json.load(open(os.path.join(d, 'status.json')))
    status['status'] = 'interrupted'
    records.write_json(os.path.join(d, 'status.json'), status)


def _results(results):
  return [(r['seed'], r['test_loss'], r['val_loss']) for r in results]


def test_corrupt_latest_checkpoint_is_skipped(tmp_path):
  config = tiny_config(epochs=4, num_seeds=2)
  first = runner.run(config, {}, str(tmp_path), out=QUIET)
  ckpt_root = tmp_path / '.checkpoints'
  (group,) = os.listdir(ckpt_root)
  epochs = sorted(int(e) for e in os.listdir(ckpt_root / group) if e.isdigit())
  assert epochs == [3, 4]  # keep=2
  # Corrupt every data file of the newest checkpoint.
  for root, _, files in os.walk(ckpt_root / group / '4'):
    for f in files:
      with open(os.path.join(root, f), 'r+b') as fh:
        fh.truncate(max(0, os.path.getsize(os.path.join(root, f)) // 3))
  _interrupt(tmp_path)
  lines = []
  again = runner.run(config, {}, str(tmp_path), out=lines.append)
  assert any('unreadable' in l and 'trying the one before it' in l
             for l in lines), lines
  assert any('resuming after epoch 3' in l for l in lines), lines
  assert _results(again) == _results(first)
  rows = records.read_metrics(os.path.join(again[0]['directory'],
                                           'metrics.jsonl'))
  assert [r['epoch'] for r in rows] == [0, 1, 2, 3, 4]


def test_checkpoint_of_another_model_shape_is_refused(tmp_path):
  """A checkpoint whose tree does not fit the model (e.g. written by other
  code into the same group directory) is refused, naming the parameter."""
  runner.run(tiny_config(epochs=2), {}, str(tmp_path / 'a'), out=QUIET)
  (group,) = os.listdir(tmp_path / 'a' / '.checkpoints')
  source = str(tmp_path / 'a' / '.checkpoints' / group)
  wide = grid_lib.make_trials(tiny_config(epochs=2, model__width=24), {})
  ckpt = checkpoint_lib.GroupCheckpoints(source, keep=2, member_axis=True)
  from dlexp.train import program as program_lib  # pylint: disable=g-import-not-at-top
  from dlexp import data as data_lib  # pylint: disable=g-import-not-at-top
  cfg = wide[0].config
  prog = program_lib.build(cfg, data_lib.load(cfg.data), _mesh())
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  target = prog.init(jnp.zeros((1,), jnp.int32), jnp.zeros((1, 8, 8, 1)))
  with pytest.raises(DlexpError) as e:
    ckpt.restore_latest(([target[0]], [target[1]]))
  ckpt.close()
  message = str(e.value)
  assert 'different model' in message
  assert ('params/dense1/bias has shape (16,) in the checkpoint and (24,) in '
          'the model') in message, message


def _mesh():
  import jax  # pylint: disable=g-import-not-at-top
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  return Mesh(np.array(jax.devices()), ('data',))


def test_torn_metrics_line_is_repaired_on_resume(tmp_path):
  config = tiny_config(epochs=3)
  first = runner.run(config, {}, str(tmp_path), out=QUIET)
  path = os.path.join(first[0]['directory'], 'metrics.jsonl')
  with open(path, 'a') as f:
    f.write('{"epoch": 4, "val_lo')  # a crash mid-line
  _interrupt(tmp_path)
  runner.run(config, {}, str(tmp_path), out=QUIET)
  rows = [json.loads(l) for l in open(path)]  # every line parses
  assert [r['epoch'] for r in rows] == [0, 1, 2, 3]


def test_second_process_on_a_locked_trial_fails_and_touches_nothing(tmp_path):
  config = tiny_config(epochs=1)
  first = runner.run(config, {}, str(tmp_path), out=QUIET)
  d = first[0]['directory']
  before = {f: open(os.path.join(d, f), 'rb').read()
            for f in ('status.json', 'metrics.jsonl', 'config.json')}
  _interrupt(tmp_path)
  before['status.json'] = open(os.path.join(d, 'status.json'), 'rb').read()
  lock = records.TrialLock(d)
  lock.acquire()  # as if another process were training it
  try:
    with pytest.raises(DlexpError, match=f'pid {os.getpid()}'):
      runner.run(config, {}, str(tmp_path), out=QUIET)
  finally:
    lock.release()
  after = {f: open(os.path.join(d, f), 'rb').read() for f in before}
  assert after == before


def test_sweep_relaunch_skips_done_and_reruns_failed_only_when_asked(tmp_path):
  axes = {'optimizer.learning_rate': [0.05, 0.1]}
  first = runner.run(tiny_config(), axes, str(tmp_path), out=QUIET)
  done_dir, failed_dir = first[0]['directory'], first[1]['directory']
  status = json.load(open(os.path.join(failed_dir, 'status.json')))
  status['status'] = 'failed'
  records.write_json(os.path.join(failed_dir, 'status.json'), status)
  mtime = os.path.getmtime(os.path.join(done_dir, 'metrics.jsonl'))

  again = runner.run(tiny_config(), axes, str(tmp_path), out=QUIET)
  assert [r['status'] for r in again] == ['done', 'failed']
  assert os.path.getmtime(os.path.join(done_dir, 'metrics.jsonl')) == mtime

  rerun = runner.run(tiny_config(), axes, str(tmp_path), out=QUIET,
                     rerun_failed=True)
  assert [r['status'] for r in rerun] == ['done', 'done']
  assert os.path.getmtime(os.path.join(done_dir, 'metrics.jsonl')) == mtime
  np.testing.assert_allclose(rerun[1]['test_loss'], first[1]['test_loss'],
                             rtol=1e-6)


def test_group_checkpoints_unit(tmp_path):
  ck = checkpoint_lib.GroupCheckpoints(str(tmp_path / 'c'), keep=3)
  tree = {'a': np.arange(6.0).reshape(2, 3), 'b': [np.int32(4)]}
  ck.save(1, tree, meta={})
  ck.save(2, {'a': tree['a'] + 1, 'b': [np.int32(5)]}, meta={})
  epoch, restored, _ = ck.restore_latest(tree)
  assert epoch == 2 and restored['b'][0] == 5
  np.testing.assert_array_equal(restored['a'], tree['a'] + 1)
  with pytest.raises(DlexpError, match=r'a has shape \(2, 3\) in the '
                     r'checkpoint and \(3, 2\)'):
    ck.restore_latest({'a': np.zeros((3, 2)), 'b': [np.int32(0)]})
  ck.close()


def test_group_checkpoints_write_in_the_background_what_save_was_given(
    tmp_path):
  """save() returns before the write commits (Orbax async); the write holds
  its own copy, so the caller reusing its buffers at once (as the next
  epoch's donated step does) changes nothing saved, and a fresh instance
  after close() reads every checkpoint."""
  ck = checkpoint_lib.GroupCheckpoints(str(tmp_path / 'c'), keep=3)
  assert ck.asynchronous
  big = np.arange(1_000_000, dtype=np.float32)
  for epoch in (1, 2, 3):
    buffer = big + epoch
    ck.save(epoch, {'w': buffer}, meta={})
    buffer[:] = -1.0  # reused right after save() returned
  ck.close()
  ck = checkpoint_lib.GroupCheckpoints(str(tmp_path / 'c'), keep=3)
  assert ck.epochs() == [1, 2, 3]
  epoch, restored, _ = ck.restore_latest({'w': big})
  assert epoch == 3
  np.testing.assert_array_equal(restored['w'], big + 3)
  ck.close()


def test_group_checkpoints_keep_names_and_refuse_another_model(tmp_path):
  # A run-shaped tree: lists of flax dataclasses holding the optimizer's
  # NamedTuples, stacked over 2 members; empty containers come back as-is.
  cfg = ml_collections.ConfigDict(dict(
      optimizer=optim.defaults(), schedule=optim.schedule_defaults(),
      epochs=2))
  opt = optim.make_optimizer(cfg, steps_per_epoch=3)

  def member(width, seed):
    params = {'dense1': {'kernel': jnp.full((3, width), seed, jnp.float32),
                         'bias': jnp.zeros((width,))}}
    return state_lib.TrainState(
        step=jnp.int32(seed), epoch=jnp.int32(1), params=params,
        batch_stats={}, opt_state=opt.init(params), masks={},
        dropout_key=jax.random.PRNGKey(seed), data_key=jax.random.PRNGKey(7))

  def group(width):
    states = jax.tree.map(lambda *x: jnp.stack(x), member(width, 1),
                          member(width, 2))
    return [states], [state_lib.new_tracker(states, 'min')]

  ck = checkpoint_lib.GroupCheckpoints(str(tmp_path / 'c'), keep=2,
                                       member_axis=True)
  tree = group(4)
  ck.save(1, tree, meta={'members': ['a', 'b']})
  ck.close()
  # A fresh instance, as in a resumed process.
  ck = checkpoint_lib.GroupCheckpoints(str(tmp_path / 'c'), keep=2,
                                       member_axis=True)
  epoch, restored, meta = ck.restore_latest(group(4))
  assert epoch == 1 and meta['members'] == ['a', 'b']
  assert jax.tree.structure(restored) == jax.tree.structure(tree)
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(tree)):
    np.testing.assert_array_equal(a, b)
  # Orbax stored the real names, e.g. the momentum trace of the kernel.
  saved = ck._mgr.item_metadata(1)['state'].tree  # pylint: disable=protected-access
  trace = saved['0']['0']['opt_state']['inner']['2']['trace']
  assert tuple(trace['dense1']['kernel'].shape) == (2, 3, 4)
  with pytest.raises(DlexpError) as e:
    ck.restore_latest(group(5))
  message = str(e.value)
  assert '\n' not in message
  assert ('params/dense1/bias has shape (4,) in the checkpoint and (5,) in '
          'the model') in message, message
  ck.close()
