"""Config validation that spans sections: every float must be finite."""
import math

import pytest

from dlexp import config as config_lib
from dlexp.errors import ConfigError

FLOATS = sorted(p for p, v in config_lib.flatten(
    config_lib.default_config()).items() if isinstance(v, float))


def test_there_are_float_fields_to_check():
  assert {'optimizer.learning_rate', 'model.dropout_rate',
          'schedule.decay_rate', 'reg.l2'} <= set(FLOATS)


@pytest.mark.parametrize('path', FLOATS)
@pytest.mark.parametrize('bad', [math.inf, -math.inf, math.nan])
def test_every_float_field_rejects_non_finite_values(path, bad):
  config = config_lib.default_config()
  config_lib.set_value(config, path, bad)
  if math.isnan(bad) and path in config_lib.NAN_SENTINELS:
    config_lib.validate(config)  # nan is the documented sentinel
    return
  with pytest.raises(ConfigError) as e:
    config_lib.validate(config)
  assert str(e.value).startswith(f'{path}={bad!r} not allowed; need a '
                                 'finite float')


def test_nan_sentinels_are_float_fields_whose_default_is_nan():
  flat = config_lib.flatten(config_lib.default_config())
  for path in config_lib.NAN_SENTINELS:
    assert math.isnan(flat[path]), path


def test_non_finite_tuple_entries_are_rejected():
  config = config_lib.default_config()
  config.loss.class_weights = (1.0, math.inf)
  with pytest.raises(ConfigError, match=r'loss.class_weights=\(1.0, inf\)'):
    config_lib.validate(config)
