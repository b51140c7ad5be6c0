"""Claim checks: finding a trial by its axis values."""
from dlexp import claims, report


def _run(trial, overrides, value):
  return report.Run(f'/runs/{trial}/seed_0',
                    {'trial': trial, 'overrides': overrides},
                    {'status': 'done', 'final': {'test_accuracy': value}},
                    _metrics=[])


def test_trial_by_last_part_or_whole_path():
  a = {'optimizer.name': 'adam', 'schedule.name': 'constant'}
  b = {'optimizer.name': 'adam', 'schedule.name': 'cosine'}
  ev = claims.Evidence({'a': [_run('a', a, 0.8)], 'b': [_run('b', b, 0.9)]})
  assert ev.trial(**{'schedule.name': 'cosine'}) == 'b'
  assert ev.trial(**{'optimizer.name': 'adam', 'schedule.name': 'constant'}) \
      == 'a'
  assert ev.trial(**{'optimizer.name': 'sgd'}) is None
  assert ev.trial(learning_rate=0.1) is None  # no such axis: no trial
  ev = claims.Evidence({'r': [_run('r', {'model.dropout_rate': 0.3}, 0.7)]})
  assert ev.trial(dropout_rate=0.3) == 'r'
  assert ev.values('r', 'test_accuracy').tolist() == [0.7]


def test_across_combines_one_verdict_per_case():
  s, c, i = (claims.Verdict(v, v) for v in (claims.SUPPORTED,
                                             claims.CONTRADICTED,
                                             claims.INCONCLUSIVE))
  assert claims.across([s, s], 'cell').verdict == claims.SUPPORTED
  mixed = claims.across([s, c], 'model')
  assert mixed.verdict == claims.DEPENDS and mixed.evidence.endswith(
      '(on the model)')
  assert claims.across([c, i], 'cell').verdict == claims.CONTRADICTED
  assert claims.across([i], 'cell').verdict == claims.INCONCLUSIVE
  assert claims.across([], 'cell').verdict == claims.INCONCLUSIVE
