"""A bad configuration stops ``doser run`` at once with one line naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
DOSER = Path(sys.executable).with_name("doser")


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("DOSER_MQTT__URL", "http://broker:9001/mqtt", "mqtt.url"),
        ("DOSER_MQTT__CA_FILE", "/no/such/ca.pem", "mqtt.ca_file"),
        ("DOSER_HTTP__PORT", "80800", "http.port"),
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_the_key(
    tmp_path: Path, key: str, value: str, named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
    env.update({"DOSER_DATA_DIR": str(tmp_path), key: value})
    result = subprocess.run(
        [str(DOSER), "run", "--simulate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("doser: invalid config")
    assert f": {named}: " in lines[0]
