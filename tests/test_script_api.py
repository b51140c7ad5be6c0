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
