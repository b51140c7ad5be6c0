"""An experiment runs from Python: `run(config, workdir, **axes)` with no
command line parsed, and gives what its flags would."""
import json
import os

import pytest

from dlexp import ablation, claims, findings
from dlexp.errors import DlexpError
from dlexp.session import Session


@pytest.fixture(scope='module')
def elu_vs_relu():
  return findings.load_script('elu_vs_relu')


def test_script_config_follows_its_sizes(elu_vs_relu):
  script = elu_vs_relu.SCRIPT
  default, smoke = script.make_config(), script.make_config('smoke')
  assert (default.epochs, default.num_seeds) == (10, 5)
  assert (smoke.epochs, smoke.num_seeds, smoke.model.depth) == (1, 2, 3)
  assert script.make_config('smoke', {'epochs': 4}).epochs == 4
  assert script.axis('activations') == ['relu', 'leaky_relu', 'elu', 'selu']
  assert script.axis('activations', 'smoke') == ['relu', 'elu']
  with pytest.raises(DlexpError, match="size='huge' not allowed"):
    script.make_config('huge')


def test_session_rejects_bad_values():
  with pytest.raises(DlexpError, match="size='big' not allowed"):
    Session(workdir='runs/x', size='big')
  with pytest.raises(DlexpError, match=r'shard=\(2, 2\)'):
    Session(workdir='runs/x', shard=(2, 2))


def test_run_from_python_at_smoke_size(elu_vs_relu, tmp_path, capsys):
  script = elu_vs_relu.SCRIPT
  config = script.make_config('smoke', {'data.train_limit': 1024,
                                        'model.width': 16})
  workdir = str(tmp_path / 'runs')
  result = elu_vs_relu.run(config, workdir, size='smoke',
                           activations=['relu', 'elu'])
  assert isinstance(result, ablation.Result)
  assert '| activation=relu | 2 |' in result.table
  assert result.evidence.trials == ['activation=relu', 'activation=elu']
  assert len(result.verdicts) == len(elu_vs_relu.CLAIMS)
  assert all(v['verdict'] in claims.VERDICTS for v in result.verdicts)
  record = json.load(open(result.record))
  assert record['size'] == 'smoke' and record['script'] == 'elu_vs_relu'
  assert record['command'] == ('python experiments/elu_vs_relu.py --smoke '
                               f'--workdir={workdir}')
  assert os.path.dirname(result.record) == os.path.join(workdir, 'findings')
  assert 'not evaluated (smoke size' in capsys.readouterr().out


def test_a_config_value_from_python_is_not_overwritten_by_an_axis(
    elu_vs_relu, tmp_path):
  config = elu_vs_relu.SCRIPT.make_config('smoke')
  config.model.activation = 'tanh'
  with pytest.raises(DlexpError, match=r"config model.activation='tanh' is "
                     r'overridden by the ablated axis model.activation'):
    elu_vs_relu.run(config, str(tmp_path / 'runs'), size='smoke')
  assert config.model.activation == 'tanh'  # the caller's object unchanged
  assert not (tmp_path / 'runs').exists()  # refused before anything ran


def test_verdicts_from_outside_the_notes_get_their_own_header(capsys):
  from dlexp import ablation
  verdict = dict(source='000 Q2', quote='q', verdict='supported',
                 evidence='e')
  ablation.print_verdicts(
      [verdict, dict(verdict, source='H1', outside='your hypothesis')],
      'default')
  out = capsys.readouterr().out.splitlines()
  notes = out.index("The notes' claims, decided by the numbers above "
                    '(default size):')
  outside = out.index('Claims from outside the notes, decided by the '
                      'numbers above (default size):')
  assert out[notes + 1].startswith('- [000 Q2] "q": SUPPORTED')
  assert out[outside + 1].startswith('- [your hypothesis; H1] "q"')
  assert notes < outside and len([l for l in out if l]) == 4


def test_help_is_the_scripts_manual():
  from conftest import run_script
  proc = run_script('elu_vs_relu', '--help')
  assert proc.returncode == 0 and not proc.stderr, proc.stderr
  out = proc.stdout
  # Its own axis flag first, then the shared flags, each with its default
  # for this script.
  own, shared = out.split('Flags of experiments/elu_vs_relu.py:\n')[1].split(
      "Flags every script shares (defaults are this script's):")
  assert own.strip().startswith('--activations:') and '--epochs' not in own
  assert 'python -m dlexp.reference' in proc.stdout  # the config fields
  out = shared
  for flag, default in [('epochs', "'10'"), ('seeds', "'5'"),
                        ('workdir', "'runs/elu_vs_relu'"),
                        ('dataset', "'fashion_mnist'"), ('model', "'mlp'"),
                        ('smoke', "'false'"), ('full', "'false'"),
                        ('plot', "'false'"), ('rerun_failed', "'false'"),
                        ('trial_shard', "''")]:
    block = out.split(f'--{flag}:')[1] if f'--{flag}:' in out else out.split(
        f'--[no]{flag}:')[1]
    assert f'(default: {default})' in block.split('\n  --')[0], flag
  # What the presets change, and where the config fields are listed.
  smoke = ' '.join(out.split('--[no]smoke:')[1].split('(default')[0].split())
  assert ('Sets (unless given): --epochs=1 --seeds=2 --activations=relu,elu '
          '--config.model.depth=3') in smoke
  assert '--epochs=40 --seeds=5' in ' '.join(out.split()), out
  # --helpfull's config dump keeps its nesting as dotted paths.
  full = run_script('elu_vs_relu', '--helpfull').stdout
  assert '\n    checkpoint.every_epochs=1\n' in full
