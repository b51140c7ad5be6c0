"""FINDINGS.md from findings records: the evidence kept, verdicts re-judged
without training, smoke records refused, the committed file current."""
import glob
import json
import os

import pytest

from dlexp import claims, findings, records
from fabricated import elu_vs_relu as fabricated

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _record(tmp_path, evidence, size='default', verdicts=None):
  path = tmp_path / 'w' / 'findings' / 'elu_vs_relu-abc.json'
  path.parent.mkdir(parents=True, exist_ok=True)
  record = dict(script='elu_vs_relu', title='ELU', question='q?',
                command='python experiments/elu_vs_relu.py', size=size,
                table='| trial |\n|---|', preamble='', plots=[],
                directories=[], written='2026-12-07T00:00:00', machine='m',
                backend='cpu', devices=['cpu:0'], versions={'jax': '0'},
                git_commit='x', wall_seconds=60, alpha=0.05,
                evidence=evidence.record(),
                claims=verdicts or [])
  records.write_json(str(path), record)
  return str(tmp_path / 'w'), record


def test_rejudge_decides_again_from_the_stored_evidence(tmp_path):
  ev = fabricated.CASES[0]['supported']
  workdir, record = _record(tmp_path, ev)
  got = findings.rejudge(record)
  assert [c['verdict'] for c in got] == [claims.SUPPORTED, claims.SUPPORTED]
  workdir, record = _record(tmp_path, fabricated.CASES[0]['contradicted'])
  assert findings.rejudge(record)[0]['verdict'] == claims.CONTRADICTED


def test_build_shows_the_statistics_and_how_to_read_them(tmp_path):
  ev = fabricated.CASES[0]['supported']
  module = findings.load_script('elu_vs_relu')
  verdicts = claims.evaluate(module.CLAIMS, ev)
  workdir, _ = _record(tmp_path, ev, verdicts=verdicts)
  text = findings.build(findings.read_records([workdir]), 'cmd')
  assert 'How to read a verdict' in text and 'Benjamini-Hochberg' in text
  assert ('| notes | quote | tested as | verdict | effect [95% CI] | p (q) '
          '| n | detectable effect | script |') in text
  assert '(existence claim: cannot be contradicted)' in text
  assert 'Regime: ELU trains above chance' in text
  assert 'Verdicts: supported 2.' in text


def test_a_row_names_the_part_of_a_combination_its_effect_belongs_to():
  cell = findings._stat_cells(  # pylint: disable=protected-access
      dict(effect=0.0049, ci=[0.001, 0.009], p=0.01, n=[5, 5], mde=0.003,
           shown_case='rate 0.5 / test accuracy'), 0.02)[0]
  assert cell == '+0.0049 [+0.0010, +0.0090] (rate 0.5 / test accuracy)'
  plain = findings._stat_cells(  # pylint: disable=protected-access
      dict(effect=0.0049, ci=[0.001, 0.009], p=0.01, n=[5, 5], mde=0.003,
           shown_case=''), 0.02)[0]
  assert plain == '+0.0049 [+0.0010, +0.0090]'


def test_q_values_leave_deterministic_rows_out_of_the_family():
  exact = dict(p=0.0, test='exact (deterministic)')
  one, two = dict(p=0.01, test='Welch t'), dict(p=0.04, test='Welch t')
  q = findings._q_values([dict(claims=[exact, one, two])])  # pylint: disable=protected-access
  assert q[id(exact)] == 0.0
  assert q[id(one)] == pytest.approx(0.02) and q[id(two)] == pytest.approx(
      0.04)  # BH over the two sampled rows only


def test_smoke_records_are_refused_unless_asked(tmp_path, capsys):
  ev = fabricated.CASES[0]['supported']
  workdir, _ = _record(tmp_path, ev, size='smoke', verdicts=claims.evaluate(
      findings.load_script('elu_vs_relu').CLAIMS, ev))
  assert findings.main([workdir]) == 2
  assert 'smoke-size record(s) skipped' in capsys.readouterr().err
  assert findings.main([workdir, '--allow_smoke']) == 0
  out = capsys.readouterr().out
  assert 'Smoke size: a plumbing check, not evidence.' in out
  assert '[smoke size: not evidence]' in out


def test_the_module_command_refuses_smoke_and_builds_with_allow_smoke(
    tmp_path):
  # The one test of `python -m dlexp.findings` as a command; the scripts'
  # smoke tests call findings.main in process.
  from conftest import run_cli  # pylint: disable=g-import-not-at-top
  ev = fabricated.CASES[0]['supported']
  workdir, _ = _record(tmp_path, ev, size='smoke', verdicts=claims.evaluate(
      findings.load_script('elu_vs_relu').CLAIMS, ev))
  refused = run_cli(['-m', 'dlexp.findings', workdir], timeout=120)
  assert refused.returncode == 2 and 'smoke-size' in refused.stderr
  built = run_cli(['-m', 'dlexp.findings', workdir, '--allow_smoke'],
                  timeout=120)
  assert built.returncode == 0 and 'experiments/elu_vs_relu.py' in built.stdout


def test_write_keeps_the_records_and_rejudge_rebuilds_the_same(tmp_path):
  ev = fabricated.CASES[0]['supported']
  verdicts = claims.evaluate(findings.load_script('elu_vs_relu').CLAIMS, ev)
  workdir, _ = _record(tmp_path, ev, verdicts=verdicts)
  out = tmp_path / 'repo'
  out.mkdir()
  assert findings.main([workdir, '--write', str(out / 'FINDINGS.md')]) == 0
  kept = out / findings.RECORDS_DIR / 'elu_vs_relu.json'
  assert json.loads(kept.read_text())['evidence'] == ev.record()
  first = (out / 'FINDINGS.md').read_text()
  again = findings.build(
      [dict(r, claims=findings.rejudge(r)) for r in
       findings.read_records([str(out / findings.RECORDS_DIR)])], 'x')
  assert first.split('\n', 3)[3] == again.split('\n', 3)[3]


def test_the_committed_findings_are_what_the_committed_records_give():
  """With records committed, FINDINGS.md is their re-judged build; until
  the default-size rerun, it says it was made with the previous rules."""
  kept = sorted(glob.glob(os.path.join(ROOT, findings.RECORDS_DIR, '*.json')))
  with open(os.path.join(ROOT, 'FINDINGS.md')) as f:
    text = f.read()
  if not kept:
    assert findings.PREVIOUS_RULES in text
    return
  found = findings.read_records([os.path.join(ROOT, findings.RECORDS_DIR)])
  for r in found:
    assert [c['verdict'] for c in findings.rejudge(r)] == [
        c['verdict'] for c in r['claims']], r['script']
  built = findings.build(found, 'x', os.path.join(ROOT, 'docs', 'findings'),
                         ROOT, copy_plots=False)
  assert text.split('\n', 3)[3] == built.split('\n', 3)[3]


BROKEN_SCRIPT = '''"""A script whose second rule crashes."""
from dlexp import ablation, claims, cli, report

cli.define_flags('broken', model='mlp', epochs=1, seeds=2)
TEST = report.DEFAULT_COLUMNS[1]
CLAIMS = (
    claims.Claim('003 Q3', 'ok', 't', lambda ev: claims.above(
        ev.sample(ev.trial(learning_rate=0.1), TEST), 0.0, 'acc')),
    claims.Claim('003 Q3', 'broken', 't', lambda ev: 1 / 0),
)


def main(_):
  ablation.run_ablation(cli.session(), {'optimizer.learning_rate': [0.1]},
                        cli.resolved_config(), claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
'''


def test_a_crashing_rule_prints_everything_records_it_and_exits_1(tmp_path):
  from conftest import run_cli, verdict_lines  # pylint: disable=g-import-not-at-top
  script = tmp_path / 'broken.py'
  script.write_text(BROKEN_SCRIPT)
  workdir = tmp_path / 'runs'
  proc = run_cli([str(script), f'--workdir={workdir}', '--dataset=synthetic',
                  '--config.model.depth=1', '--config.model.width=8',
                  '--config.data.train_limit=512',
                  '--config.data.val_size=256'], timeout=300)
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert '| learning_rate=0.1 |' in proc.stdout
  assert [v for _, _, v in verdict_lines(proc.stdout)] == ['SUPPORTED',
                                                            'ERROR']
  assert 'ZeroDivisionError' in proc.stdout
  assert 'claim rule(s) failed' in proc.stderr
  (record,) = glob.glob(str(workdir / 'findings' / 'broken-*.json'))
  with open(record) as f:
    data = json.load(f)
  assert [c['verdict'] for c in data['claims']] == ['supported', 'error']
  assert data['evidence']['trials']['learning_rate=0.1']['columns']['test acc']


def test_claims_whose_trial_did_not_run_are_counted_apart():
  records_ = [{'claims': [
      {'verdict': 'inconclusive', 'evidence': 'not in this grid: no trial'},
      {'verdict': 'inconclusive', 'evidence': 'regime not reached: x'},
      {'verdict': 'supported', 'evidence': 'e'}]}]
  assert findings.counts(records_) == {'not run': 1, 'inconclusive': 1,
                                       'supported': 1}


def test_the_record_keeps_the_table_order_through_sorted_json(tmp_path):
  ev = claims.fabricate({'b=2': {'acc': [1.0, 2.0]}, 'a=1': {'acc': [3.0,
                                                                   4.0]}})
  path = str(tmp_path / 'r.json')
  records.write_json(path, {'evidence': ev.record()})
  back = claims.from_record(records.read_json(path)['evidence'])
  assert back.trials == ['b=2', 'a=1']
