"""The launchers: the local one really runs an experiment on 2 forced CPU
devices; the TPU one is checked through the commands it prints and, with a
fake gcloud on PATH, the ones it runs; the SLURM script with a fake srun."""
import json
import os
import shlex
import stat
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from conftest import member_dir  # pylint: disable=g-import-not-at-top,wrong-import-position


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


TPU = ['gcloud', 'compute', 'tpus', 'tpu-vm']
WHERE = ['--zone=us-central2-b', '--project=proj']


def _fake_tools(tmp_path, fail_on=''):
  """gcloud, git and srun that log their arguments (one line per call) and
  fail when the call contains `fail_on`."""
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  log = tmp_path / 'calls.log'
  for name in ('gcloud', 'git', 'srun'):
    path = bin_dir / name
    path.write_text(
        '#!/bin/bash\n'
        f'printf "%q " {name} "$@" >> {log}; echo >> {log}\n'
        f'[[ -n "{fail_on}" && "$*" == *"{fail_on}"* ]] && exit 3\n'
        'exit 0\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
  env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}')
  return env, log


def _calls(log):
  return [shlex.split(line) for line in log.read_text().splitlines()] if (
      log.exists()) else []


def test_tpu_multi_host_dry_run_prints_every_command_and_runs_none(tmp_path):
  env, log = _fake_tools(tmp_path)
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'launch', 'tpu_vm.py'), '--dry_run',
       '--tpu=t1', '--zone=us-central2-b', '--project=proj', '--create',
       '--delete', '--spot', '--accelerator_type=v4-32', '--',
       'experiments/elu_vs_relu.py', '--model=cnn', '--trial_shard=0/2'],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr
  printed = [shlex.split(line) for line in proc.stdout.splitlines()]
  assert printed == [
      TPU + ['create', 't1', '--accelerator-type=v4-32',
             '--version=tpu-ubuntu2204-base', '--spot'] + WHERE,
      ['git', 'archive', '--format=tar.gz', '--prefix=dlexp/', '-o',
       '/tmp/dlexp.tar.gz', 'HEAD'],
      TPU + ['scp', '/tmp/dlexp.tar.gz', 't1:~/', '--worker=all'] + WHERE,
      TPU + ['ssh', 't1', '--worker=all',
             '--command=rm -rf dlexp && tar xzf dlexp.tar.gz && cd dlexp && '
             "python3 -m venv .venv && .venv/bin/pip install -q -e '.[tpu]'"]
      + WHERE,
      TPU + ['ssh', 't1', '--worker=all',
             '--command=cd ~ && dlexp/.venv/bin/python '
             'dlexp/experiments/elu_vs_relu.py --model=cnn --trial_shard=0/2 '
             '--workdir=runs/elu_vs_relu'] + WHERE,
      ['mkdir', '-p', 'runs'],
      TPU + ['scp', '--recurse', 't1:~/runs/elu_vs_relu', 'runs',
             '--worker=0'] + WHERE,
      TPU + ['delete', 't1', '--quiet'] + WHERE]
  assert _calls(log) == [] and not (tmp_path / 'runs').exists()


def test_tpu_launcher_runs_in_order_and_deletes_after_a_failure(tmp_path):
  env, log = _fake_tools(tmp_path, fail_on='dlexp/.venv/bin/python')
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'launch', 'tpu_vm.py'), '--tpu=t1',
       '--zone=z', '--delete', '--results=out', '--', 'experiments/x.py',
       '--workdir', '/data/runs/x'],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 1
  assert 'exited with status 3' in proc.stderr.splitlines()[-1]
  calls = _calls(log)
  # No create (the VM is reused); the run fails; nothing is collected; the
  # VM is deleted all the same.
  assert [c[:5] for c in calls] == [
      ['git', 'archive', '--format=tar.gz', '--prefix=dlexp/', '-o'],
      TPU + ['scp'], TPU + ['ssh'], TPU + ['ssh'], TPU + ['delete']]
  assert calls[3][-2].endswith('x.py --workdir /data/runs/x')
  out = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'launch', 'tpu_vm.py'), '--dry_run',
       '--tpu=t1', '--zone=z', '--results=out', '--', 'experiments/x.py',
       '--workdir', '/data/runs/x'], capture_output=True, text=True,
      timeout=60).stdout.splitlines()
  assert out[-1] == ('gcloud compute tpus tpu-vm scp --recurse '
                     't1:/data/runs/x out --worker=0 --zone=z')


def _sbatch(tmp_path, env_extra, *args):
  env, log = _fake_tools(tmp_path)
  env.update(dict(SLURM_SUBMIT_DIR=ROOT, SLURM_JOB_NUM_NODES='2',
                  SLURM_NTASKS_PER_NODE='4', SLURM_GPUS_ON_NODE='4'),
             **env_extra)
  proc = subprocess.run(['bash', os.path.join(ROOT, 'launch',
                                              'slurm_gpu.sbatch')] + list(args),
                        env=env, capture_output=True, text=True, timeout=60)
  return proc, _calls(log)


def test_slurm_script_runs_the_experiment_on_every_task(tmp_path):
  proc, calls = _sbatch(tmp_path, {}, 'experiments/elu_vs_relu.py',
                        '--model=cnn')
  assert proc.returncode == 0, proc.stderr
  assert calls == [['srun', '--kill-on-bad-exit=1', '.venv/bin/python',
                    'experiments/elu_vs_relu.py', '--model=cnn']]
  assert proc.stdout.startswith('dlexp: 2 node(s) x 4 task(s): ')


def test_slurm_array_job_passes_its_trial_shard(tmp_path):
  # sbatch --array=4-8:2 -> tasks 4, 6, 8 = shards 0, 1, 2 of 3.
  proc, calls = _sbatch(tmp_path, dict(
      SLURM_ARRAY_TASK_ID='6', SLURM_ARRAY_TASK_MIN='4',
      SLURM_ARRAY_TASK_MAX='8', SLURM_ARRAY_TASK_STEP='2',
      SLURM_ARRAY_TASK_COUNT='3'), 'experiments/dropout_rates.py')
  assert proc.returncode == 0, proc.stderr
  assert calls[0][-1] == '--trial_shard=1/3'
  assert 'trial shard 1/3' in proc.stdout


def test_slurm_script_refuses_tasks_unequal_to_gpus(tmp_path):
  proc, calls = _sbatch(tmp_path, dict(SLURM_NTASKS_PER_NODE='1'),
                        'experiments/elu_vs_relu.py')
  assert proc.returncode == 2 and calls == []
  assert proc.stderr.strip() == (
      'error: --ntasks-per-node=1 but 4 GPU(s) per node; JAX runs one process '
      'per GPU, so give them equal')
