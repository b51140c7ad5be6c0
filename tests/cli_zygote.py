r"""Starts command-line runs for the tests without paying for `import jax`
each time: a process that has imported the library once, then forks a child
per run (the "zygote" of Android and Chromium). Most of a smoke or bad-input
test's process used to be interpreter start-up and imports (0.7-1 s of a
1.2 s bad-input run, on 2 cores).

A child is the process `python SCRIPT ARGS` would be, minus those imports: it
chdirs, points fds 0/1/2 at /dev/null and the two capture files, sets
sys.argv and sys.path[0] as the interpreter does, runs the script as
__main__, and exits through the interpreter's own shutdown (atexit, thread
joins, the traceback of an uncaught exception). Forking is only safe while
this process has one thread and no XLA backend; the zygote checks both after
its imports and says `unsafe` otherwise, and the caller runs a real process.

Protocol, one JSON line each way: the caller sends
  {"argv": [SCRIPT, *ARGS], "cwd": ..., "out": PATH, "err": PATH}
and the zygote answers
{"pid": N} once forked and {"returncode": N} when the child ends.
"""
import json
import os
import runpy
import sys
import threading
import time

# What a script run imports (measured with -X importtime); the rest of a run
# imports lazily, as in its own process. mnist1d.data (0.87 s: matplotlib
# and scipy) is what each run on MNIST-1D imports for the generator's
# arguments, its cache key.
PRELOAD = ('dlexp.cli', 'dlexp.analysis', 'dlexp.data', 'dlexp.train.runner',
           'jax.numpy', 'flax.linen', 'optax', 'mnist1d.data')


def _preload_data():
  """Reads Fashion-MNIST's IDX files into dlexp's per-process cache (see
  fashion_mnist.read), so a child starts with them: gunzipping them took
  0.35-0.45 s of each script run. Numpy only, no thread; a test that points
  a run at other files still reads those (the cache is keyed by path, size
  and modification time)."""
  from dlexp.data import fashion_mnist  # pylint: disable=g-import-not-at-top
  files, _ = fashion_mnist.locate()
  if files is not None:
    fashion_mnist.read(files)


def _unsafe_reason():
  if threading.active_count() != 1:
    return f'{threading.active_count()} threads after the imports'
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  if xla_bridge._backends:  # pylint: disable=protected-access
    return 'an XLA backend was initialized by an import'
  return None


def _child(request, reply):
  """Becomes `python ARGV` in this forked process; never returns normally
  (SystemExit or an exception unwinds to the interpreter's shutdown)."""
  reply.close()  # this copy only; the zygote's stays open
  os.chdir(request['cwd'])
  for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                          (1, request['out'], os.O_WRONLY | os.O_CREAT),
                          (2, request['err'], os.O_WRONLY | os.O_CREAT)):
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, fd)
    os.close(opened)
  sys.argv = request['argv']
  sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
  # A script's wall time counts from its import of dlexp.cli, which a fresh
  # process does just now, not when this zygote started.
  sys.modules['dlexp.cli']._STATE['start'] = time.time()  # pylint: disable=protected-access
  runpy.run_path(sys.argv[0], run_name='__main__')
  sys.exit(0)


def main():
  reply_fd = os.dup(1)  # the protocol's channel; a child's fd 1 is its own
  reply = os.fdopen(reply_fd, 'w', buffering=1)
  os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
  for name in PRELOAD:
    __import__(name)
  _preload_data()
  reason = _unsafe_reason()
  reply.write(json.dumps({'unsafe': reason} if reason else {'ready': True})
              + '\n')
  if reason:
    return
  for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
      _child(request, reply)
    reply.write(json.dumps({'pid': pid}) + '\n')
    _, status = os.waitpid(pid, 0)
    reply.write(json.dumps({'returncode': os.waitstatus_to_exitcode(status)})
                + '\n')


if __name__ == '__main__':
  main()
