"""FINDINGS.md: what the experiments measured about the notes' claims.

Every experiment script, after its table, evaluates its claims (dlexp.claims)
and writes one findings record per invocation into its workdir:
`WORKDIR/findings/<script>-<id>.json`, where the id names exactly the runs
of that invocation (their directories, hence their settings and seeds). A
record holds the question, the command, the table, the verdicts with their
evidence, plots, wall time, machine and versions.

    python -m dlexp.findings WORKDIR... [--write FINDINGS.md] [--allow_smoke]
    python -m dlexp.findings --rejudge [--write FINDINGS.md]

builds one section per script (its question, the notes' claims with the
verdicts the script's rules computed, their tests, effects, intervals and
preconditions, the measured table, the command that reproduced it) from the
newest record of each script found under the given workdirs, with a summary
table by seed question and a Benjamini-Hochberg q beside every p. A record
also keeps the per-seed values of its table (the evidence), so --rejudge
decides every verdict again from the committed records in
docs/findings/records/ with the current rules, without training. Smoke-size
records are plumbing checks: skipped unless --allow_smoke (then marked).
The file is generated: never edit it by hand (`make findings`).
"""
import argparse
import glob
import hashlib
import importlib.util
import os
import platform
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from dlexp import claims, cli, records, stats, tables

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


def read_records(workdirs: Sequence[str], allow_smoke: bool = False
                 ) -> List[Dict[str, Any]]:
  """The newest record of each script under `workdirs` (their findings/
  folders, workdirs one level down, and committed records: any *.json
  directly in a given folder). Smoke-size records are plumbing checks and
  are skipped unless `allow_smoke` (then they are marked)."""
  newest: Dict[str, Dict[str, Any]] = {}
  for workdir in workdirs:
    pattern = os.path.join(glob.escape(workdir), '**', FINDINGS_DIR, '*.json')
    paths = sorted(glob.glob(pattern, recursive=True)) + sorted(
        glob.glob(os.path.join(glob.escape(workdir), '*.json')))
    for path in paths:
      record = records.read_json(path)
      if not record or 'script' not in record:
        continue
      if record.get('size') == 'smoke' and not allow_smoke:
        continue
      record['_path'] = path
      old = newest.get(record['script'])
      if old is None or record['written'] >= old['written']:
        newest[record['script']] = record
  return sorted(newest.values(), key=_order)


def smoke_records(workdirs: Sequence[str]) -> int:
  return sum(1 for r in read_records(workdirs, allow_smoke=True)
             if r.get('size') == 'smoke')


def _order(record):
  """Sections follow the notes: by the first claim's seed file, question."""
  sources = [c['source'] for c in record.get('claims', [])] or ['999']
  return (min(sources), record['script'])


# -- re-judging --------------------------------------------------------------
EXPERIMENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'experiments')


def load_script(name: str, directory: str = EXPERIMENTS_DIR):
  """The experiment script `name` as a module, for its CLAIMS. Each script
  defines absl flags of its own; they are removed again after the import
  so that every script can be loaded into one process (rules read only
  their Evidence, never a flag)."""
  path = os.path.join(directory, f'{name}.py')
  if not os.path.isfile(path):
    raise FileNotFoundError(f'no experiment script {path}')
  spec = importlib.util.spec_from_file_location(f'dlexp_script_{name}', path)
  module = importlib.util.module_from_spec(spec)
  with cli.flags_removed_after():
    spec.loader.exec_module(module)
  return module


def rejudge(record: Dict[str, Any], module=None) -> List[Dict[str, Any]]:
  """The record's verdicts decided again by the script's current rules
  from the per-seed evidence the record stores, without training."""
  if not record.get('evidence'):
    raise ValueError(f'record of {record["script"]} has no evidence '
                     '(written before records kept it): rerun the script')
  module = module or load_script(record['script'])
  return claims.evaluate(module.CLAIMS, claims.from_record(
      record['evidence']), record.get('alpha', 0.05))


# -- FINDINGS.md -------------------------------------------------------------
HOW_TO_READ = (
    'How to read a verdict. Each claim is the notes\' words (quote, `...` '
    'elisions only) and what was measured for it (tested as; "proxy:" where '
    'the setting differs from the notes\'). Its rule is one declared form '
    '(A > B, A ≈ B within a margin, A not worse than B, rate(A) > rate(B), a '
    'value against a target), with direction and margin fixed in the script '
    'before any run. "A > B" is supported when the effect is significantly '
    'beyond its margin and contradicted when significantly short of it, by '
    'two one-sided Welch t-tests at the margin over seeds (n = seeds; the '
    'effect\'s interval and an exact permutation p beside it are '
    'two-sided; whole-number counts such as epochs or steps to a target '
    'take exact permutation tests at the margin instead, since ties at a '
    'handful of seeds make the t approximation unreliable); '
    'equivalence and non-inferiority by two one-sided tests (TOST) against '
    'the margin, counts of seeds that diverged, stuck or collapsed by '
    'Fisher\'s exact test; a verdict needs p < α ({alpha}). A claim over '
    'several cases adjusts its p-values by Holm (a deterministic case, the '
    'same value on every seed by construction such as a FLOP or '
    'matrix-product count, keeps its p of 0 or 1 and is not counted; '
    'Fisher\'s counts of seeds are counted); "depends" needs one case '
    'significantly for and one significantly against; its row shows the '
    'effect of the case whose own p is the row\'s (for a decided row the '
    'case that decides it; among ties, one with the row\'s verdict, then '
    'the smallest p), named in brackets; a case\'s p, like a row\'s, is '
    'the Holm-adjusted one toward its own verdict (for an undecided one '
    'the smaller of its two; for an existence claim, toward support). q is '
    'the '
    'Benjamini-Hochberg q-value over every p on this page but the '
    'deterministic ones (which keep q = p). "Inconclusive" '
    'means the effect was not shown beyond its margin, not that there is '
    'none: an effect short of the margin plus the detectable effect (the '
    'smallest difference these seeds detect with 80% power, measured from '
    'zero) can be missed; '
    'it is also the verdict when the regime the claim needs was not reached '
    '(its preconditions are listed with their values). Runs that ended at '
    'chance (collapsed) and seeds without a finite value are counted and left '
    'out of means, and each sentence says so.')


def _fmt(x, spec='+.4f') -> str:
  return 'n/a' if x is None else format(x, spec)


def _stat_cells(c: Dict[str, Any], q: Optional[float]) -> List[str]:
  ci = c.get('ci') or [None, None]
  effect = (f'{_fmt(c.get("effect"))} [{_fmt(ci[0])}, {_fmt(ci[1])}]'
            if c.get('effect') is not None else 'n/a')
  if c.get('shown_case') and c.get('effect') is not None:
    effect += f' ({c["shown_case"]})'  # the deciding part of a combination
  p = c.get('p')
  pq = 'n/a' if p is None else f'{_p(p)} ({_p(q)})'
  n = '/'.join(str(x) for x in c.get('n') or []) or 'n/a'
  return [effect, pq, n, _fmt(c.get('mde'), '.4f')]


def _p(p: Optional[float]) -> str:
  if p is None or p != p:
    return 'n/a'
  return '<0.001' if p < 0.001 else f'{p:.3f}'


def _q_values(records_: Sequence[Dict[str, Any]]) -> Dict[int, float]:
  """BH q-values over the page's p's; a deterministic row (an exact count,
  p 0 or 1) can make no false discovery: it keeps q = p and is left out of
  the family."""
  found = [c for r in records_ for c in r.get('claims', [])
           if c.get('p') is not None]
  exact = [c for c in found if c.get('test') == stats.EXACT_TEST]
  rest = [c for c in found if c.get('test') != stats.EXACT_TEST]
  qs = stats.bh([c['p'] for c in rest])
  out = {id(c): float(q) for c, q in zip(rest, qs)}
  out.update({id(c): float(c['p']) for c in exact})
  return out


def _verdict_text(c: Dict[str, Any], size: str) -> str:
  text = c['verdict']
  if c['evidence'].startswith('not in this grid'):
    text = f'{NOT_RUN} ({text})'
  if c.get('existence'):
    text += ' (existence claim: cannot be contradicted)'
  if size == 'smoke':
    text = f'{text} [smoke size: not evidence]'
  return f'**{text}**'


def _summary(records_: Sequence[Dict[str, Any]], q: Dict[int, float],
             outside: bool) -> List[str]:
  rows = []
  for r in records_:
    for c in r.get('claims', []):
      if bool(c.get('outside')) != outside:
        continue
      source = f'{c["outside"]}; {c["source"]}' if outside else c['source']
      rows.append((source, c['quote'], c.get('tested_as', ''),
                   _verdict_text(c, r.get('size', '')),
                   *_stat_cells(c, q.get(id(c))),
                   f'[{r["script"]}](#{r["script"]})'))
  rows.sort(key=lambda row: (row[0], row[-1]))
  if not rows:
    return ['(none)']
  return [tables.markdown(
      ['notes', 'quote', 'tested as', 'verdict', 'effect [95% CI]', 'p (q)',
       'n', 'detectable effect', 'script'], rows)]


def _claim_lines(c: Dict[str, Any], q: Dict[int, float], size: str
                 ) -> List[str]:
  origin = f'{c["outside"]}, ' if c.get('outside') else 'Notes '
  effect, pq, n, mde = _stat_cells(c, q.get(id(c)))
  lines = [f'- {origin}{c["source"]}: "{c["quote"]}"  ',
           f'  Tested as: {c.get("tested_as", "")}  ']
  if c.get('regime'):
    lines.append(f'  Regime: {"; ".join(c["regime"])}  ')
  if c.get('form'):
    lines.append(f'  Rule: {c["form"]}; effect {effect}, p (q) {pq}, n {n}, '
                 f'detectable effect {mde}  ')
  lines.append(f'  {_verdict_text(c, size)}: {c["evidence"]}')
  return lines


def _section(r: Dict[str, Any], plot_dir: Optional[str], out_dir: str,
             q: Dict[int, float], copy_plots: bool = True) -> List[str]:
  lines = [f'<a id="{r["script"]}"></a>', f'## {r["title"]}', '',
           f'Script: `experiments/{r["script"]}.py`. {r.get("question", "")}',
           '']
  if r.get('size') == 'smoke':
    lines += ['**Smoke size: a plumbing check, not evidence.**', '']
  for c in r.get('claims', []):
    lines += _claim_lines(c, q, r.get('size', ''))
  lines += ['', r.get('preamble', ''), '', r['table'], '']
  for plot in r.get('plots', []):
    if not plot_dir:
      continue
    target = os.path.join(plot_dir, f'{r["script"]}-{os.path.basename(plot)}')
    if copy_plots and os.path.exists(plot):
      shutil.copyfile(plot, target)
    if os.path.exists(target):  # re-judged: the committed copy
      rel = os.path.relpath(target, out_dir)
      lines += [f'![{os.path.basename(plot)}]({rel})', '']
  minutes = r.get('wall_seconds', 0) / 60
  reused = r.get('reused_runs') or 0
  took = (f'{minutes:.1f} min' if not reused else
          f'{minutes:.1f} min, reusing {reused} finished runs')
  lines += [f'Reproduce: `{r["command"]}` ({r.get("size", "default")} size; '
            f'{took} on {r["machine"]}, {r["backend"]}, '
            f'{r["written"][:10]}).', '']
  return lines


NOT_RUN = 'not run'  # inconclusive because the trial is not in the grid


def counts(records_: Sequence[Dict[str, Any]]) -> Dict[str, int]:
  """How many claims got each verdict; those whose trial the grid lacks
  are counted apart, as 'not run'."""
  out: Dict[str, int] = {}
  for r in records_:
    for c in r.get('claims', []):
      kind = (NOT_RUN if c['evidence'].startswith('not in this grid')
              else c['verdict'])
      out[kind] = out.get(kind, 0) + 1
  return out


def build(records_: Sequence[Dict[str, Any]], command: str,
          plot_dir: Optional[str] = None, out_dir: str = '.',
          copy_plots: bool = True) -> str:
  """The whole FINDINGS.md text; plots are copied into `plot_dir` (unless
  not `copy_plots`: then the copies already there are linked)."""
  if plot_dir and copy_plots:
    os.makedirs(plot_dir, exist_ok=True)
  dates = sorted(r['written'][:10] for r in records_)
  machines = sorted({r['machine'] for r in records_})
  versions = records_[0]['versions'] if records_ else {}
  alphas = sorted({c.get('alpha', 0.05) for r in records_
                   for c in r.get('claims', [])}) or [0.05]
  q = _q_values(records_)
  tally = ', '.join(f'{k} {v}' for k, v in sorted(counts(records_).items()))
  lines = [
      '# Findings', '',
      f'Generated by `{command}` from the runs of {len(records_)} '
      f'experiment script(s), made {dates[0] if dates else "?"}'
      f'{" to " + dates[-1] if dates and dates[-1] != dates[0] else ""} on '
      f'{", ".join(machines)} (jax {versions.get("jax", "?")}, flax '
      f'{versions.get("flax", "?")}, optax {versions.get("optax", "?")}). '
      'Do not edit: `make findings` reruns every script at its default size '
      'and rewrites this file; `python -m dlexp.findings --rejudge` decides '
      'every verdict again from the committed records (docs/findings/'
      'records/) without training.', '',
      HOW_TO_READ.format(alpha=', '.join(f'{a:g}' for a in alphas)), '',
      f'Verdicts: {tally or "none"}.', '',
      '## Summary: the notes\' claims', '', *_summary(records_, q, False), '',
      '## Claims from outside the notes', '', *_summary(records_, q, True),
      '']
  for r in records_:
    lines += _section(r, plot_dir, out_dir, q, copy_plots)
  return '\n'.join(lines).rstrip() + '\n'


RECORDS_DIR = os.path.join('docs', 'findings', 'records')
# FINDINGS.md carries this while it still comes from runs judged by the old
# rule (|difference| > 2 SE, 3 seeds), before records kept their evidence.
PREVIOUS_RULES = ('> **Made with the previous rules.** Every verdict below was '
                  'decided by the old spread rule (|difference| > 2 standard '
                  'errors, mostly 3 seeds a side, no multiplicity control, no '
                  'preconditions) and is superseded: the scripts now decide '
                  'with the tests of dlexp/stats.py, and this file is '
                  'regenerated from default-size runs with them (`make '
                  'findings`).')


def keep(records_: Sequence[Dict[str, Any]], directory: str) -> None:
  """Copies each record (its table, evidence and verdicts; no curves) to
  `directory`/<script>.json, to be committed."""
  os.makedirs(directory, exist_ok=True)
  for r in records_:
    kept = {k: v for k, v in r.items() if not k.startswith('_')}
    records.write_json(os.path.join(directory, f'{r["script"]}.json'), kept)


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog='python -m dlexp.findings',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('workdirs', nargs='*',
                      help='workdirs with findings records (default with '
                      f'--rejudge: {RECORDS_DIR})')
  parser.add_argument('--write', metavar='PATH',
                      help='write the markdown here (plots beside it in '
                      'docs/findings/, the records in docs/findings/records/)'
                      ' instead of printing it')
  parser.add_argument('--rejudge', action='store_true',
                      help='decide every verdict again from the records\' '
                      'stored per-seed evidence with the current rules')
  parser.add_argument('--allow_smoke', action='store_true',
                      help='include smoke-size records (marked as not '
                      'evidence); they are skipped by default')
  args = parser.parse_args(argv)
  workdirs = args.workdirs or ([RECORDS_DIR] if args.rejudge else [])
  if not workdirs:
    print('error: give the workdirs with findings records (or --rejudge)',
          file=sys.stderr)
    return 2
  missing = [w for w in workdirs if not os.path.isdir(w)]
  if missing:
    print(f'error: workdir {missing[0]!r} is not a directory',
          file=sys.stderr)
    return 2
  found = read_records(workdirs, args.allow_smoke)
  if not found:
    smoke = smoke_records(workdirs)
    hint = (f' ({smoke} smoke-size record(s) skipped: a plumbing check, not '
            'evidence; --allow_smoke includes them, marked)' if smoke else
            '; run the experiment scripts first')
    print(f'error: no findings records ({FINDINGS_DIR}/*.json) under '
          f'{", ".join(workdirs)}{hint}', file=sys.stderr)
    return 2
  if args.rejudge:
    for r in found:
      r['claims'] = rejudge(r)
    found.sort(key=_order)  # re-judged claims may carry new labels
  command = 'python -m dlexp.findings ' + ' '.join(argv)
  if args.write:
    out_dir = os.path.dirname(os.path.abspath(args.write))
    text = build(found, command.strip(),
                 os.path.join(out_dir, 'docs', 'findings'), out_dir)
    with open(args.write, 'w') as f:
      f.write(text)
    keep(found, os.path.join(out_dir, RECORDS_DIR))  # re-judged: updated
    print(f'wrote {args.write}: {len(found)} script(s), '
          f'{sum(len(r.get("claims", [])) for r in found)} claim(s): '
          + ', '.join(f'{k} {v}' for k, v in sorted(counts(found).items())))
  else:
    print(build(found, command.strip()))
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
