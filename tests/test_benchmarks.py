"""benchmarks/compare_peers.py without PyTorch: its dlexp half runs, and the
table's ratios say which side is faster. (The grid and whole-process rows
compile a 15-member grid / start fresh processes: tens of seconds, so they
run only in the script itself.)"""
import dataclasses
import os
import sys

import jax
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import compare_peers
from dlexp import timing


def test_dlexp_half_runs_without_torch(capsys):
  text = compare_peers.main(['--smoke', '--no-torch', '--rows', 'mlp',
                             '--repeats', '1'])
  header, rule, row = text.splitlines()
  assert header.startswith('| row | dlexp | PyTorch | ratio |')
  cells = [c.strip() for c in row.strip('|').split('|')]
  assert cells[0].startswith('MLP 3x256, one model (examples/s; 20 steps')
  assert float(cells[1].split()[0].replace(',', '')) > 0
  assert cells[2:4] == ['-', '-']
  assert 'torch not run (--no-torch)' in capsys.readouterr().out


def _timing(seconds, items=0.0):
  return timing.Timing('t', items, wall_s=[seconds], cpu_s=[seconds])


def test_ratios_above_one_mean_dlexp_is_faster():
  rate = compare_peers.Result('rate', _timing(1.0, 300), _timing(1.0, 100),
                              seconds=False)
  time_ = compare_peers.Result('time', _timing(10.0), _timing(30.0),
                               seconds=True)
  rows = compare_peers.table([rate, time_]).splitlines()[2:]
  assert [r.split('|')[4].strip() for r in rows] == ['3.00x', '3.00x']


def test_whole_process_rows_time_a_fresh_process():
  run = compare_peers._subprocess([sys.executable, '-c', 'sum(range(10**6))'])
  measured = run()
  assert isinstance(measured, timing.Measured)
  assert measured.wall_s > 0 and measured.cpu_s > 0


def test_steps_override_sets_the_rows_steps_and_refuses_more_than_the_data(
    capsys):
  text = compare_peers.main(['--smoke', '--no-torch', '--rows', 'mlp',
                             '--repeats', '1', '--steps', '3'])
  assert '(examples/s; 3 steps' in text.splitlines()[2]
  with pytest.raises(SystemExit, match=r'--steps=1000 x --batch=128 = '
                     r'128000 examples; the training split has \d+'):
    compare_peers.main(['--smoke', '--no-torch', '--rows', 'mlp',
                        '--repeats', '1', '--steps', '1000'])
  capsys.readouterr()


def test_torch_peer_runs_where_dlexp_runs():
  """--torch-device match: PyTorch on CUDA exactly when JAX's backend is a
  GPU (this machine: CPU); an unavailable device is refused by name."""
  args = compare_peers.parse_args(['--smoke'])
  assert args.torch_device == ('cuda' if jax.default_backend() == 'gpu'
                               else 'cpu')
  assert compare_peers.parse_args(['--torch-device', 'cpu']).torch_device == (
      'cpu')
  torch = pytest.importorskip('torch')  # the optional `bench` extra
  from benchmarks import peers_torch
  assert peers_torch.pick_device('auto') == (
      'cuda' if torch.cuda.is_available() else 'cpu')
  if not torch.cuda.is_available():
    with pytest.raises(ValueError, match="torch device 'cuda' asked for"):
      peers_torch.pick_device('cuda')


def test_bench_engine_baselines_train_the_epoch_they_count():
  """bench_engine's dlexp-step loop and scanned naive baseline each run an
  epoch of `steps` batches and count its examples (the step-loop row once
  crashed on a deleted argument)."""
  from benchmarks import bench_engine
  from dlexp import data as data_lib
  from dlexp.train import runner
  rng = np.random.default_rng(0)
  dataset = data_lib.from_arrays(rng.normal(size=(40, 6)).astype(np.float32),
                                 rng.integers(0, 3, size=40), val_size=8)
  cfg = bench_engine.make_config('mlp2x256', batch=8)
  cfg.model.width = 4
  dataset = dataclasses.replace(dataset, train_x=dataset.train_x[:24],
                                train_y=dataset.train_y[:24])
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ('data',))
  ddata = runner.to_device(dataset, cfg, mesh)
  assert bench_engine.step_loop(cfg, dataset, ddata, mesh, 3)() == 24
  run = bench_engine.naive_scan(cfg, dataset, 3)
  assert run() == 24
