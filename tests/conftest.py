"""Shared test helpers: tiny configs on the synthetic dataset."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile

# Tests run on the CPU whatever the machine has; keep XLA from grabbing every
# core per process when pytest-xdist runs two.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')


def _test_xla_flags() -> str:
  """Tests train tiny models for a few steps: compiling dominates, and XLA's
  backend optimizations cost more than they save (measured on 2 cores, cold
  cache: batch_norm --smoke 44 -> 39 s CPU, keras_workflow --smoke 51 -> 38 s).
  Two XLA:CPU options cut what is left, where this jaxlib knows them:
  - the MLIR fusion emitters off (0.10: vanishing_gradients --smoke
    27.2/20.3 -> 18.5/16.0 s, cnn_families 24.1 -> 16.8 s, same verdicts and
    accuracies);
  - each program one LLVM module, not several compiled in parallel, which
    costs more CPU than it saves when two workers share two cores
    (activation_choice --smoke: its programs' XLA compiles 10.6 -> 8.3 s,
    the conv nets' 15% less; `make test` 358.7 -> 335.5 s).
  Every comparison a test makes is between programs compiled the same way.
  """
  flags = ['--xla_backend_optimization_level=0']
  extra = ['--xla_cpu_use_fusion_emitters=false',
           '--xla_cpu_parallel_codegen_split_count=1']
  if not _known(flags + extra):  # an older jaxlib: keep the ones it knows
    extra = [flag for flag in extra if _known(flags + [flag])]
  return ' '.join(flags + extra)


def _known(flags) -> bool:
  """Whether this jaxlib starts with XLA_FLAGS=`flags`: an entry it does not
  know aborts the process, so each try is a process of its own (once per
  test session; xdist workers and scripts inherit the result)."""
  probe = subprocess.run(
      [sys.executable, '-c', 'import jax; jax.jit(abs).lower(1.).compile()'],
      env=dict(os.environ, XLA_FLAGS=' '.join(flags)), capture_output=True,
      timeout=300, check=False)
  return probe.returncode == 0


# Tests that start processes with XLA_FLAGS of their own (forced device
# counts) add these, so that every process compiles the same way.
COMPILE_FLAGS_ENV = 'DLEXP_TEST_XLA_FLAGS'
if 'XLA_FLAGS' not in os.environ:
  os.environ['XLA_FLAGS'] = _test_xla_flags()
  os.environ[COMPILE_FLAGS_ENV] = os.environ['XLA_FLAGS']


def xla_flags(*flags: str) -> str:
  """XLA_FLAGS for a process a test starts: `flags` after the compile flags
  this test session chose (none where the user set XLA_FLAGS)."""
  return ' '.join([os.environ.get(COMPILE_FLAGS_ENV, ''), *flags]).strip()
# One persistent compilation cache for every test process (and the
# subprocesses tests start): a program compiled once is loaded afterwards.
os.environ.setdefault('DLEXP_COMPILE_CACHE', os.path.join(
    tempfile.gettempdir(), f'dlexp-test-compile-cache-{os.getuid()}'))

import pytest  # pylint: disable=g-import-not-at-top

from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
from dlexp import compile_cache  # pylint: disable=g-import-not-at-top

compile_cache.enable('auto')


def tiny_config(**overrides):
  """A 2x16 MLP on 'synthetic' (10k/2k examples, 8x8x1), 2 epochs."""
  c = config_lib.default_config()
  c.data.name = 'synthetic'
  c.data.val_size = 500
  c.data.train_limit = 2048
  c.model.depth = 2
  c.model.width = 16
  c.epochs = 2
  c.batch_size = 64
  c.eval_batch_size = 500
  c.diagnostics.every_epochs = 0
  c.optimizer.learning_rate = 0.05
  for path, value in overrides.items():
    config_lib.set_value(c, path.replace('__', '.'), value)
  return c


@pytest.fixture
def tiny():
  return tiny_config


def member_dir(workdir, trial: str, seed: int) -> str:
  """The one run directory of `trial` and `seed` under `workdir`
  (WORKDIR/<trial>/<config id>/seed_<n>); fails unless exactly one exists."""
  import glob  # pylint: disable=g-import-not-at-top
  found = glob.glob(os.path.join(str(workdir), glob.escape(trial), '*',
                                 f'seed_{seed}'))
  assert len(found) == 1, (trial, seed, found)
  return found[0]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Zygote:
  """This worker's tests/cli_zygote.py: forks command-line runs from a
  process that has imported the library already (see its docstring)."""

  def __init__(self):
    self.env = _environment()
    self.proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'tests', 'cli_zygote.py')],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    self.pending = b''
    try:
      self.ready = self._reply(timeout=300).get('ready', False)
    except (RuntimeError, AttributeError):  # exited, or said nothing
      self.ready = False

  def _reply(self, timeout):
    """The zygote's next JSON line, or None after `timeout` seconds."""
    fd = self.proc.stdout.fileno()
    while b'\n' not in self.pending:
      if not select.select([fd], [], [], timeout)[0]:
        return None
      chunk = os.read(fd, 4096)
      if not chunk:
        raise RuntimeError('tests/cli_zygote.py exited')
      self.pending += chunk
    line, self.pending = self.pending.split(b'\n', 1)
    return json.loads(line)

  def run(self, argv, cwd, timeout):
    with tempfile.TemporaryDirectory() as tmp:
      out, err = os.path.join(tmp, 'out'), os.path.join(tmp, 'err')
      self.proc.stdin.write(json.dumps(
          {'argv': list(argv), 'cwd': str(cwd), 'out': out, 'err': err}
      ).encode() + b'\n')
      self.proc.stdin.flush()
      forked = self._reply(timeout=60)
      if forked is None:
        raise RuntimeError('tests/cli_zygote.py did not fork in 60 s')
      pid, done = forked['pid'], self._reply(timeout)
      if done is None:
        os.kill(pid, signal.SIGKILL)
        self._reply(timeout=60)
        raise subprocess.TimeoutExpired([sys.executable, *argv], timeout)
      with open(out, errors='replace') as o, open(err, errors='replace') as e:
        return subprocess.CompletedProcess(
            [sys.executable, *argv], done['returncode'], o.read(), e.read())


_ZYGOTE = []


def _environment():
  """os.environ without the variable pytest changes for every test."""
  return {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}


def run_cli(argv, cwd=ROOT, timeout=600, env=None):
  """`python ARGV` (a script path or '-m', MODULE, then its arguments) as a
  user runs it, output captured: the CompletedProcess. A script is forked
  from this worker's zygote where the environment is the one it started
  with; a module (quick: none imports jax) or a run with `env` (variables
  added) gets a process of its own."""
  if env is None and argv[0] != '-m':
    if not _ZYGOTE:
      _ZYGOTE.append(_Zygote())
    zygote = _ZYGOTE[0]
    if zygote.ready and zygote.env == _environment():
      return zygote.run(argv, cwd, timeout)
  return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True,
                        text=True, timeout=timeout,
                        env=dict(os.environ, **(env or {})))


def run_script(name: str, *args: str, timeout: int = 600):
  """experiments/<name>.py with `args`, from the repository root, as a user
  runs it; the CompletedProcess, output captured."""
  return run_cli([os.path.join(ROOT, 'experiments', f'{name}.py'), *args],
                 timeout=timeout)


def assert_one_line_error(proc, message: str) -> None:
  """Bad input: exit status 2, the last stderr line 'error: ...' matching
  the regular expression `message`, no traceback."""
  import re  # pylint: disable=g-import-not-at-top
  assert proc.returncode == 2, proc.stderr[-2000:]
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and re.search(message, last), last
  assert 'Traceback' not in proc.stderr


VERDICT_LINE = re.compile(
    r'^- \[([^\]]+)\] "(.+)": (?:not evaluated \(smoke size: a plumbing '
    r'check; the rule gave )?([A-Z]+)\)? - ', re.M)


def verdict_lines(stdout: str):
  """[(source, quote, VERDICT)] of the verdicts a script printed, with or
  without the smoke-size label (which every line at smoke size carries)."""
  return VERDICT_LINE.findall(stdout)
