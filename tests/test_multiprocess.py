"""Two real JAX processes on localhost (coordinator on 127.0.0.1, one CPU
device each) train a grid through the runner and reach the same numbers as
one process with two forced CPU devices; only process 0 writes files."""
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from jax._src.lib import _jax  # pylint: disable=g-import-not-at-top

from conftest import member_dir, xla_flags

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
         if not k.startswith(('SLURM_', 'OMPI_', 'DLEXP_NUM', 'DLEXP_PROC',
                              'DLEXP_COORD', 'XLA_FLAGS'))}
  env['JAX_PLATFORMS'] = 'cpu'
  env['XLA_FLAGS'] = xla_flags()
  env.update(extra)
  return env


@pytest.mark.skipif(not GLOO, reason='this jaxlib has no gloo CPU '
                    'collectives (jax._src.lib._jax.make_gloo_tcp_collectives)')
def test_two_processes_equal_one_process_with_two_devices(tmp_path):
  coordinator = f'127.0.0.1:{_free_port()}'
  # Each process gets its own workdir, as on hosts without a shared disk:
  # process 0's fills up, process 1's must stay empty.
  procs = [subprocess.Popen(
      [sys.executable, WORKER, str(tmp_path / f'w{i}')],
      env=_env(DLEXP_COORDINATOR=coordinator, DLEXP_NUM_PROCESSES='2',
               DLEXP_PROCESS_ID=str(i)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for i in range(2)]
  single = subprocess.Popen(
      [sys.executable, WORKER, str(tmp_path / 'single')],
      env=_env(XLA_FLAGS=xla_flags('--xla_force_host_platform_device_count=2'),
               DLEXP_NUM_PROCESSES='1'),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  # One deadline for all: a process that dies early leaves the other waiting
  # at a barrier for JAX's own timeouts (minutes).
  deadline = time.monotonic() + 240
  try:
    outs = [p.communicate(timeout=max(1, deadline - time.monotonic()))
            for p in procs + [single]]
  finally:
    for p in procs + [single]:
      if p.poll() is None:
        p.kill()
  for p, (out, err) in zip(procs + [single], outs):
    assert p.returncode == 0, err[-3000:]
  multi, other, ref = [json.loads(o.strip().splitlines()[-1])
                       for o, _ in outs]
  assert (multi['plan'], multi['processes'], multi['devices']) == (
      'explicit', 2, 2)
  assert (ref['plan'], ref['processes'], ref['devices']) == ('single', 1, 2)
  np.testing.assert_allclose(multi['losses'], ref['losses'], rtol=1e-5)
  np.testing.assert_allclose(other['losses'], multi['losses'], rtol=1e-6)
  assert len(set(multi['losses'])) == 4  # 2 learning rates x 2 seeds
  assert any('not one directory shared' in l for l in multi['lines'])
  assert any('devices: 2 x cpu in 2 processes' in l for l in multi['lines'])
  assert not other['lines']  # process 1 prints nothing ...
  assert not (tmp_path / 'w1').exists()  # ... and writes nothing
  d = member_dir(tmp_path / 'w0', 'learning_rate=0.2', 1)
  status = json.load(open(os.path.join(d, 'status.json')))
  assert status['status'] == 'done' and len(status['devices']) == 2
