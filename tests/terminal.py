"""A real terminal for the CLI: a pseudo-terminal of a chosen size, for what only shows where a cursor moves
(live tables, text wrapped to the width)."""

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios


def pty_run(args, cwd, columns=80, rows=40, timeout=120, stream="stderr", env=None) -> tuple[str, str, int]:
    """Run ``nnlab ARGS`` with ``stream`` (stderr, where live tables draw, or stdout) on a terminal of
    ``columns`` × ``rows``, with ``env``'s variables added; return what the terminal received (escape
    sequences as line breaks), the other stream, and the exit status."""
    extra = env or {}
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")} | extra
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlab", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave if stream == "stdout" else subprocess.PIPE,
        stderr=slave if stream == "stderr" else subprocess.PIPE,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(slave)
    screen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            screen += data
        elif proc.poll() is not None:
            break
    os.close(master)
    out = (proc.stderr if stream == "stdout" else proc.stdout).read().decode()
    proc.wait(timeout)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", screen.decode(errors="replace")), out, proc.returncode
