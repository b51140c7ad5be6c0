"""Two real JAX processes on localhost (coordinator on 127.0.0.1, one CPU
device each) train the same steps as one process with two forced CPU devices,
and reach the same parameters; only process 0 writes its result."""
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from jax._src.lib import _jax  # pylint: disable=g-import-not-at-top

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, 'tests', 'multiprocess_worker.py')

# Cross-process computations on CPU need a collectives library in jaxlib
# (gloo); without it the two processes cannot all-reduce a gradient at all.
GLOO = hasattr(_jax, 'make_gloo_tcp_collectives')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _env(**extra):
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(('SLURM_', 'OMPI_', 'DLEXP_', 'XLA_FLAGS'))}
  env['JAX_PLATFORMS'] = 'cpu'
  env.update(extra)
  return env


def _leaves(tree):
  if isinstance(tree, dict):
    return [x for k in sorted(tree) for x in _leaves(tree[k])]
  return [np.asarray(tree)]


@pytest.mark.skipif(not GLOO, reason='this jaxlib has no gloo CPU '
                    'collectives (jax._src.lib._jax.make_gloo_tcp_collectives)')
def test_two_processes_equal_one_process_with_two_devices(tmp_path):
  coordinator = f'127.0.0.1:{_free_port()}'
  procs = [subprocess.Popen(
      [sys.executable, WORKER, f'--out={tmp_path}/p{i}',
       f'--ckpt={tmp_path}/ckpt_multi'],
      env=_env(DLEXP_COORDINATOR=coordinator, DLEXP_NUM_PROCESSES='2',
               DLEXP_PROCESS_ID=str(i)),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  single = subprocess.Popen(
      [sys.executable, WORKER, f'--out={tmp_path}/single'],
      env=_env(XLA_FLAGS='--xla_force_host_platform_device_count=2',
               DLEXP_NUM_PROCESSES='1'),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  # One deadline for all: a process that dies early leaves the other waiting
  # at a barrier for JAX's own timeouts (minutes).
  deadline = time.monotonic() + 120
  try:
    logs = [p.communicate(timeout=max(1, deadline - time.monotonic()))[0]
            for p in procs + [single]]
  finally:
    for p in procs + [single]:
      if p.poll() is None:
        p.kill()
  for p, log in zip(procs + [single], logs):
    assert p.returncode == 0, log[-3000:]

  multi = json.load(open(tmp_path / 'p0' / 'result.json'))
  ref = json.load(open(tmp_path / 'single' / 'result.json'))
  assert not (tmp_path / 'p1').exists()  # process 1 wrote nothing
  assert (multi['plan'], multi['process_count'], multi['device_count'],
          multi['local_device_count']) == ('explicit', 2, 2, 1)
  assert (ref['plan'], ref['process_count'], ref['device_count']) == (
      'single', 1, 2)
  for key in ('host', 'resident'):
    for a, b in zip(_leaves(multi[key]), _leaves(ref[key]), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(multi[f'{key}_losses'], ref[f'{key}_losses'],
                               rtol=1e-6)
  # Trained, not merely initialized: the loss moved, and the two feeds
  # (different batch orders) ended in different places.
  assert multi['host_losses'][0] != multi['host_losses'][-1]
  assert not np.allclose(_leaves(multi['host'])[0],
                         _leaves(multi['resident'])[0])
  assert multi['shared'] == {'ckpt': True, 'out': False}
  # Orbax saved by both processes into one directory, restored by both.
  assert multi['restored_epoch'] == 1
  for a, b in zip(_leaves(multi['restored']), _leaves(multi['host']),
                  strict=True):
    np.testing.assert_array_equal(a, b)
