"""Two concurrent pytest runs get separate base temporary folders (issue 11, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
def test_probe(tmp_path_factory):
    print("BASETEMP=" + str(tmp_path_factory.getbasetemp()))
"""


def test_concurrent_runs_get_their_own_basetemp(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    # conftest is loaded as a plugin: the probe folder has no conftest of its own
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
               "-p", "conftest", "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")]
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    bases = [next(line.split("=", 1)[1] for line in out.splitlines()
                  if line.startswith("BASETEMP=")) for out in outputs]
    assert bases[0] != bases[1]
    for base in bases:
        assert Path(base).is_relative_to(Path(tempfile.gettempdir()).resolve()), base
        assert "pytest-of-" not in base
        assert not Path(base).exists()  # a green run removes its own folder
