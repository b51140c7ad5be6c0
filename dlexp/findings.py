"""FINDINGS.md: what the experiments measured about the notes' claims.

Every experiment script, after its table, evaluates its claims (dlexp.claims)
and writes one findings record per invocation into its workdir:
`WORKDIR/findings/<script>-<id>.json`, where the id names exactly the runs
of that invocation (their directories, hence their settings and seeds). A
record holds the question, the command, the table, the verdicts with their
evidence, plots, wall time, machine and versions.

    python -m dlexp.findings WORKDIR... [--write FINDINGS.md]

builds one section per script (its question, the notes' claims with the
verdicts the script's rules computed, the measured table, the command that
reproduced it) from the newest record of each script found under the given
workdirs, with a summary table by seed question. The file is generated:
never edit it by hand (`make findings` regenerates it).
"""
import argparse
import glob
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from dlexp import records, tables

FINDINGS_DIR = 'findings'


def machine() -> str:
  """'2 x AMD EPYC 7B13' (CPU count and model) or the platform."""
  model = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          model = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  return f'{os.cpu_count()} x {model}'


def invocation_id(directories: Sequence[str], workdir: str) -> str:
  rel = sorted(os.path.relpath(d, workdir) for d in directories)
  return hashlib.sha1('\n'.join(rel).encode()).hexdigest()[:10]


def write_record(workdir: str, script: str, **fields) -> str:
  """Writes one invocation's findings record; returns its path. `fields`
  must include `directories` (the runs in the table)."""
  directory = os.path.join(workdir, FINDINGS_DIR)
  os.makedirs(directory, exist_ok=True)
  env = records.environment()
  record = dict(script=script, written=time.strftime('%Y-%m-%dT%H:%M:%S'),
                machine=machine(), backend=env['backend'],
                devices=env['devices'], versions=env['versions'],
                git_commit=env['git_commit'], **fields)
  record['directories'] = sorted(
      os.path.relpath(d, workdir) for d in fields['directories'])
  path = record_path(workdir, script, fields['directories'])
  records.write_json(path, record)
  return path


def record_path(workdir: str, script: str, directories: Sequence[str]) -> str:
  """Where write_record puts the record of `script` over `directories`."""
  return os.path.join(workdir, FINDINGS_DIR,
                      f'{script}-{invocation_id(directories, workdir)}.json')


def read_records(workdirs: Sequence[str]) -> List[Dict[str, Any]]:
  """The newest record of each script under `workdirs` (their findings/
  folders, and those of workdirs one level down)."""
  newest: Dict[str, Dict[str, Any]] = {}
  for workdir in workdirs:
    pattern = os.path.join(glob.escape(workdir), '**', FINDINGS_DIR, '*.json')
    for path in sorted(glob.glob(pattern, recursive=True)):
      record = records.read_json(path)
      if not record or 'script' not in record:
        continue
      record['_path'] = path
      old = newest.get(record['script'])
      if old is None or record['written'] >= old['written']:
        newest[record['script']] = record
  return sorted(newest.values(), key=_order)


def _order(record):
  """Sections follow the notes: by the first claim's seed file, question."""
  sources = [c['source'] for c in record.get('claims', [])] or ['999']
  return (min(sources), record['script'])


def _summary(records_: Sequence[Dict[str, Any]]) -> List[str]:
  rows = sorted((c['source'], c['quote'], c['verdict'], r['script'])
                for r in records_ for c in r.get('claims', []))
  return [tables.markdown(
      ['notes', 'claim', 'verdict', 'script'],
      [(source, quote, f'**{verdict}**', f'[{script}](#{script})')
       for source, quote, verdict, script in rows])]


def _section(r: Dict[str, Any], plot_dir: Optional[str],
             out_dir: str) -> List[str]:
  lines = [f'<a id="{r["script"]}"></a>', f'## {r["title"]}', '',
           f'Script: `experiments/{r["script"]}.py`. {r.get("question", "")}',
           '']
  for c in r.get('claims', []):
    lines += [f'- Notes {c["source"]}: "{c["quote"]}"  ',
              f'  **{c["verdict"]}**: {c["evidence"]}']
  lines += ['', r.get('preamble', ''), '', r['table'], '']
  for plot in r.get('plots', []):
    if plot_dir and os.path.exists(plot):
      name = f'{r["script"]}-{os.path.basename(plot)}'
      shutil.copyfile(plot, os.path.join(plot_dir, name))
      rel = os.path.relpath(os.path.join(plot_dir, name), out_dir)
      lines += [f'![{os.path.basename(plot)}]({rel})', '']
  minutes = r.get('wall_seconds', 0) / 60
  reused = r.get('reused_runs') or 0
  took = (f'{minutes:.1f} min' if not reused else
          f'{minutes:.1f} min, reusing {reused} finished runs')
  lines += [f'Reproduce: `{r["command"]}` ({r.get("size", "default")} size; '
            f'{took} on {r["machine"]}, {r["backend"]}, '
            f'{r["written"][:10]}).', '']
  return lines


def build(records_: Sequence[Dict[str, Any]], command: str,
          plot_dir: Optional[str] = None, out_dir: str = '.') -> str:
  """The whole FINDINGS.md text."""
  if plot_dir:
    os.makedirs(plot_dir, exist_ok=True)
  dates = sorted(r['written'][:10] for r in records_)
  machines = sorted({r['machine'] for r in records_})
  versions = records_[0]['versions'] if records_ else {}
  lines = [
      '# Findings', '',
      f'Generated by `{command}` from the runs of {len(records_)} '
      f'experiment script(s), made {dates[0] if dates else "?"}'
      f'{" to " + dates[-1] if dates and dates[-1] != dates[0] else ""} on '
      f'{", ".join(machines)} (jax {versions.get("jax", "?")}, flax '
      f'{versions.get("flax", "?")}, optax {versions.get("optax", "?")}). '
      'Do not edit: `make findings` reruns every script at its default size '
      'and rewrites this file. Every verdict is computed by the script\'s '
      'rule from the measured numbers and their spread over seeds '
      '(dlexp/claims.py); the tables show mean ± std over seeds.', '',
      '## Summary', '', *_summary(records_), '']
  for r in records_:
    lines += _section(r, plot_dir, out_dir)
  return '\n'.join(lines).rstrip() + '\n'


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog='python -m dlexp.findings',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('workdirs', nargs='+')
  parser.add_argument('--write', metavar='PATH',
                      help='write the markdown here (plots beside it in '
                      'docs/findings/) instead of printing it')
  args = parser.parse_args(argv)
  missing = [w for w in args.workdirs if not os.path.isdir(w)]
  if missing:
    print(f'error: workdir {missing[0]!r} is not a directory',
          file=sys.stderr)
    return 2
  found = read_records(args.workdirs)
  if not found:
    print(f'error: no findings records ({FINDINGS_DIR}/*.json) under '
          f'{", ".join(args.workdirs)}; run the experiment scripts first',
          file=sys.stderr)
    return 2
  command = 'python -m dlexp.findings ' + ' '.join(args.workdirs) + (
      f' --write {args.write}' if args.write else '')
  if args.write:
    out_dir = os.path.dirname(os.path.abspath(args.write))
    text = build(found, command, os.path.join(out_dir, 'docs', 'findings'),
                 out_dir)
    with open(args.write, 'w') as f:
      f.write(text)
    print(f'wrote {args.write}: {len(found)} script(s), '
          f'{sum(len(r.get("claims", [])) for r in found)} claim(s)')
  else:
    print(build(found, command))
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
