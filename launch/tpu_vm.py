r"""Runs an experiment on a Cloud TPU VM slice with gcloud, single-host (v4-8,
v5litepod-8, ...) or multi-host (v4-32, v5litepod-16, ...): copies this
checkout (its last commit) to every worker, installs dlexp[tpu] there, runs the
same experiment command on every worker at once, copies the workdir back from
worker 0 and deletes the VM.

  python launch/tpu_vm.py --tpu=my-tpu --zone=us-central2-b --create \
      --accelerator_type=v4-32 --delete -- experiments/elu_vs_relu.py \
      --model=cnn --config.data.download=True

On a multi-host slice each worker is one JAX process: dlexp.distributed
detects the slice and calls jax.distributed.initialize(), the `data` mesh
spans every chip of every worker, and only process 0 (worker 0) writes the
workdir, which lands in --results/<workdir name>. The workdir is relative to
the home directory of each worker, outside the code directory, so a rerun
without --create (after a preemption) resumes from the checkpoints there.

--dry_run prints every command, cloud and local, and runs none. With --delete
the VM is deleted even when an earlier step fails: a slice bills until then.
See docs/MULTIHOST.md for costs and pitfalls.
"""
import argparse
import os
import shlex
import subprocess
import sys

REMOTE_DIR = 'dlexp'  # code directory in each worker's home
ARCHIVE = '/tmp/dlexp.tar.gz'


def _workdir(script) -> tuple:
  """(experiment flags with --workdir, the workdir): --workdir=X, --workdir X
  or the default runs/<script name>, made explicit so it is known here."""
  flags = list(script[1:])
  for i, flag in enumerate(flags):
    if flag.startswith('--workdir='):
      return flags, flag.split('=', 1)[1]
    if flag == '--workdir' and i + 1 < len(flags):
      return flags, flags[i + 1]
  name = os.path.splitext(os.path.basename(script[0]))[0]
  workdir = f'runs/{name}'
  return flags + [f'--workdir={workdir}'], workdir


def commands(args) -> list:
  """Every command line, in order: (create), archive, copy, install, run,
  collect, (delete)."""
  if not args.script:
    raise SystemExit('error: name the experiment after --, e.g. '
                     '-- experiments/elu_vs_relu.py')
  where = [f'--zone={args.zone}'] + ([f'--project={args.project}']
                                     if args.project else [])
  tpu = ['gcloud', 'compute', 'tpus', 'tpu-vm']
  flags, workdir = _workdir(args.script)
  install = (f'rm -rf {REMOTE_DIR} && tar xzf {os.path.basename(ARCHIVE)} && '
             f'cd {REMOTE_DIR} && python3 -m venv .venv && '
             ".venv/bin/pip install -q -e '.[tpu]'")
  # Same command on every worker, from the home directory: the workdir stays
  # outside the code directory that the install step replaces.
  run = ('cd ~ && ' + shlex.join(
      [f'{REMOTE_DIR}/.venv/bin/python', f'{REMOTE_DIR}/{args.script[0]}']
      + flags))
  out = []
  if args.create:
    out.append(tpu + ['create', args.tpu,
                      f'--accelerator-type={args.accelerator_type}',
                      f'--version={args.version}']
               + (['--spot'] if args.spot else []) + where)
  out.append(['git', 'archive', '--format=tar.gz', f'--prefix={REMOTE_DIR}/',
              '-o', ARCHIVE, 'HEAD'])
  out.append(tpu + ['scp', ARCHIVE, f'{args.tpu}:~/', '--worker=all'] + where)
  out.append(tpu + ['ssh', args.tpu, '--worker=all', f'--command={install}']
             + where)
  out.append(tpu + ['ssh', args.tpu, '--worker=all', f'--command={run}']
             + where)
  out.append(['mkdir', '-p', args.results])
  remote = workdir if os.path.isabs(workdir) else f'~/{workdir}'
  out.append(tpu + ['scp', '--recurse', f'{args.tpu}:{remote}', args.results,
                    '--worker=0'] + where)
  if args.delete:
    out.append(tpu + ['delete', args.tpu, '--quiet'] + where)
  return out


def parse(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--tpu', required=True, help='TPU VM name')
  parser.add_argument('--zone', required=True)
  parser.add_argument('--project', default='')
  parser.add_argument('--create', action='store_true',
                      help='create the TPU VM first (else reuse it)')
  parser.add_argument('--delete', action='store_true',
                      help='delete the TPU VM at the end, also after a failure')
  parser.add_argument('--accelerator_type', default='v4-8',
                      help='v4-8 (1 host), v4-32 (4 hosts), v5litepod-16, ...')
  parser.add_argument('--version', default='tpu-ubuntu2204-base',
                      help='TPU software version (v4: tpu-ubuntu2204-base; '
                      'v5e: v2-alpha-tpuv5-lite; v6e: v2-alpha-tpuv6e)')
  parser.add_argument('--spot', action='store_true',
                      help='create a Spot VM (cheaper, may be preempted)')
  parser.add_argument('--results', default='runs',
                      help='local directory the workdir is copied into')
  parser.add_argument('--dry_run', action='store_true',
                      help='print every command, run none')
  parser.add_argument('script', nargs=argparse.REMAINDER,
                      help='-- experiments/NAME.py [flags]')
  args = parser.parse_args(argv)
  if args.script[:1] == ['--']:
    args.script = args.script[1:]
  return args


def main(argv=None) -> int:
  args = parse(argv)
  cmds = commands(args)
  if args.dry_run:
    for cmd in cmds:
      print(shlex.join(cmd), flush=True)
    return 0
  steps, delete = (cmds[:-1], cmds[-1]) if args.delete else (cmds, None)
  try:
    for cmd in steps:
      print(shlex.join(cmd), flush=True)
      subprocess.run(cmd, check=True)
  finally:
    if delete:  # also after a failed step: the slice bills until deleted
      print(shlex.join(delete), flush=True)
      subprocess.run(delete, check=False)
  return 0


if __name__ == '__main__':
  try:
    sys.exit(main())
  except subprocess.CalledProcessError as e:
    print(f'error: {shlex.join(e.cmd)} exited with status {e.returncode}',
          file=sys.stderr)
    sys.exit(1)
