"""``cli.app.exit_process``: the console scripts' end without the interpreter's
teardown must keep everything observable of a normal exit (issue 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run(body: str) -> subprocess.CompletedProcess[str]:
    code = "from dcmretrieve.cli.app import exit_process\n" + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_status_buffered_output_and_atexit_handlers() -> None:
    proc = _run("""
        import atexit, sys
        atexit.register(lambda: print("atexit ran", file=sys.stderr))
        print("buffered, never flushed by hand", end="")
        sys.stderr.write("err text\\n")
        exit_process(61)
    """)
    assert proc.returncode == 61
    assert proc.stdout == "buffered, never flushed by hand"
    assert proc.stderr == "err text\natexit ran\n"


def test_a_running_thread_is_waited_for_as_by_a_normal_exit() -> None:
    proc = _run("""
        import threading, time
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True))).start()
        exit_process(3)
    """)
    assert proc.returncode == 3
    assert proc.stdout == "thread done\n"


def test_a_closed_pipe_keeps_pythons_own_exit() -> None:
    """The reader of stdout is gone: the flush fails, the normal exit takes
    over (Python's message on stderr and status 120, as without it)."""
    code = ("import sys, time\nfrom dcmretrieve.cli.app import exit_process\n"
            "time.sleep(0.5)\nsys.stdout.write('x' * 100)\nexit_process(0)\n")

    def run(text: str) -> tuple[int, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout stays buffered
        proc = subprocess.Popen([sys.executable, "-c", text], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader leaves before anything is written
        err = proc.stderr.read().decode()
        return proc.wait(timeout=60), err

    normal = run(code.replace("exit_process(0)", "sys.exit(0)"))
    ours = run(code)
    assert normal[0] == ours[0] == 120
    assert ours[1] == normal[1] and "BrokenPipeError" in ours[1]


def test_console_scripts_end_through_exit_process() -> None:
    from dcmretrieve import getscu, movescu

    for module in (getscu, movescu):
        assert module.console.__code__.co_names.count("exit_process") == 1
