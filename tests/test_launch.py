"""The launchers: the local one really runs an experiment on 2 forced CPU
devices; the TPU one is checked through the gcloud commands it would run."""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'launch'))

from conftest import member_dir  # pylint: disable=g-import-not-at-top,wrong-import-position
import tpu_vm  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_local_launcher_runs_on_two_forced_cpu_devices(tmp_path):
  proc = subprocess.run(
      [sys.executable, 'launch/local.py', '--cpu_devices=2', '--',
       'experiments/elu_vs_relu.py', '--dataset=synthetic',
       '--activations=relu', '--epochs=1', '--seeds=1',
       '--config.model.depth=1', '--config.model.width=8',
       '--config.data.val_size=500', f'--workdir={tmp_path}'],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr
  assert 'devices: 2 x cpu' in proc.stdout
  status = json.load(open(os.path.join(
      member_dir(tmp_path, 'activation=relu', 0), 'status.json')))
  assert status['status'] == 'done' and len(status['devices']) == 2


def test_tpu_launcher_commands():
  parser_args = ['--tpu=t1', '--zone=z', '--create', '--delete', '--',
                 'experiments/elu_vs_relu.py', '--model=cnn']
  ns = argparse.Namespace(tpu='t1', zone='z', project='', create=True,
                          delete=True, accelerator_type='v4-8',
                          version='tpu-ubuntu2204-base',
                          script=parser_args[5:])
  cmds = tpu_vm.commands(ns)
  assert cmds[0][:5] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'create']
  assert '--accelerator-type=v4-8' in cmds[0]
  ssh = [c for c in cmds if 'ssh' in c][0]
  remote = ssh[ssh.index('--command') + 1]
  assert ".venv/bin/pip install -q -e '.[tpu]'" in remote
  assert 'experiments/elu_vs_relu.py --model=cnn --workdir=runs/elu_vs_relu' \
      in remote
  assert cmds[-1][4] == 'delete'
  out = subprocess.run([sys.executable, 'launch/tpu_vm.py', '--dry_run']
                       + parser_args, cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
  assert out.returncode == 0 and out.stdout.count('gcloud') == 5
