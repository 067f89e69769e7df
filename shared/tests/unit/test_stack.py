"""The local stack's process control (veche-stack), on real child processes."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from veche_shared.devtools.stack import Stack


def _stop_in_background(stack: Stack, name: str) -> threading.Thread:
    # stop once looped for ever on a process it could not signal: a thread lets the test
    # report that as a failure instead of hanging the suite
    stopper = threading.Thread(target=stack.stop, args=(name,), kwargs={"timeout": 5}, daemon=True)
    stopper.start()
    stopper.join(timeout=30)
    return stopper


@pytest.mark.parametrize("own_group", [True, False], ids=["group-leader", "started-by-hand"])
def test_stop_ends_the_process_in_the_pid_file(tmp_path: Path, own_group: bool) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(120)"]
    child = subprocess.Popen(command, start_new_session=own_group)
    stack = Stack(tmp_path, {})
    stack.run_dir.mkdir(parents=True)
    (stack.run_dir / "notify.pid").write_text(str(child.pid))

    stopper = _stop_in_background(stack, "notify")

    assert not stopper.is_alive(), "stop did not return"
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    assert not (stack.run_dir / "notify.pid").exists()
