"""tests/cli_zygote.py runs a script as its own process would: the same exit
status, output, argv, sys.path[0], __name__, atexit handlers and traceback."""
import subprocess
import sys

import pytest

import conftest

SCRIPT = r'''
import atexit, os, sys
atexit.register(lambda: print('atexit ran', flush=True))
print(__name__, sys.argv[1:], sys.path[0] == os.path.dirname(
    os.path.abspath(__file__)), os.getcwd() == {cwd!r})
print('to stderr', file=sys.stderr)
how = sys.argv[1]
if how == 'raise':
  raise ValueError('bad value 7')
if how == 'exit3':
  sys.exit(3)
if how == 'exit_message':
  sys.exit('error: one line')
'''


@pytest.mark.parametrize('how', ['ok', 'raise', 'exit3', 'exit_message'])
def test_a_forked_run_matches_its_own_process(tmp_path, how):
  script = tmp_path / 'script.py'
  script.write_text(SCRIPT.format(cwd=str(tmp_path)))
  argv = [str(script), how, '--flag=1']
  forked = conftest.run_cli(argv, cwd=tmp_path, timeout=60)
  assert conftest._ZYGOTE[0].ready  # pylint: disable=protected-access
  alone = subprocess.run([sys.executable, *argv], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
  assert forked.returncode == alone.returncode
  assert forked.stdout == alone.stdout
  assert forked.stdout.startswith(f"__main__ ['{how}', '--flag=1'] True True")
  assert forked.stdout.endswith('atexit ran\n')
  # A traceback names the zygote's frames too; its first and last lines and
  # everything else printed are the same.
  assert forked.stderr.splitlines()[-1] == alone.stderr.splitlines()[-1]
  assert (('Traceback' in forked.stderr) == ('Traceback' in alone.stderr)
          == (how == 'raise'))


def test_a_run_past_its_timeout_is_killed(tmp_path):
  script = tmp_path / 'sleep.py'
  script.write_text('import time\ntime.sleep(60)\n')
  with pytest.raises(subprocess.TimeoutExpired):
    conftest.run_cli([str(script)], timeout=1)
  quick = tmp_path / 'quick.py'
  quick.write_text('print("served")\n')
  assert conftest.run_cli([str(quick)], timeout=30).stdout == 'served\n'
