"""The extra processes of a multi-device run die with the process that started them.

Lightning starts one process per device (a copy of the command, or spawned workers). If the
starting process is killed outright (the kernel's OOM killer, ``kill -9``), those would go on
running, holding memory and devices, with nobody to wait for them. On Linux each of them asks the
kernel to kill it when its parent dies, first thing: a copy of the command does it as ``textclf``
starts, a spawned worker as it unpickles its callbacks (see ``TiedToParent``), both before they
wait for each other to set up the process group. Imported by the CLI at start, so torch-free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

#: Set by the process that starts a run; the processes it starts inherit it.
MAIN_PID_ENV = "TEXTCLF_MAIN_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent exits; exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(os.environ.get(MAIN_PID_ENV, os.getppid())):
        os._exit(1)  # the parent died before the request was made: nobody is waiting for us


def tie_to_parent() -> None:
    """``die_with_parent`` in a process a run started (one whose ``MAIN_PID_ENV`` is not its own)."""
    main = os.environ.get(MAIN_PID_ENV, "")
    if main.isdigit() and int(main) != os.getpid():
        die_with_parent()
