"""`python scripts/faults.py`, as README.md shows it: every planted fault ends with its documented
exit status, and the table says what each left on disk."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_fault_ends_as_documented():
    result = subprocess.run([sys.executable, "scripts/faults.py"], cwd=ROOT, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 26 and all("(as documented)" in row for row in rows)
    by_case = {row.split(" | ")[0][2:]: row for row in rows}
    assert by_case["disk full when the report is written"].endswith("; nothing was written | nothing |")
    assert "left on disk: out/train_mnist_cnn_legacy_state.ckpt.npz" in by_case["SIGINT during training"]
    assert "then --resume: exit 0" in by_case["SIGTERM during training, then --resume"]
    assert "Traceback" not in result.stdout
