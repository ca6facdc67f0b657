"""Wall time of the commands that must stay light: ``--help``, ``--version``, ``plugins``.

Each command runs REPEAT times as a fresh process, next to the floor every Python CLI pays
(``python -c pass``); the table prints the median, the ratio to that floor and the 0.5 s target.

    .venv/bin/python benchmarks/cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
TEXTCLF = str(Path(sys.executable).with_name("textclf"))
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "textclf --version": [TEXTCLF, "--version"],
    "textclf --help": [TEXTCLF, "--help"],
    "textclf plugins": [TEXTCLF, "plugins"],
    "textclf plugins --json": [TEXTCLF, "plugins", "--json"],
    "textclf train --help": [TEXTCLF, "train", "--help"],
}


def median_wall(command: list[str], repeat: int) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the page cache and .pyc files
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    floor = None
    print(f"{'command':<26} {'median s':>9} {'x floor':>8}  target {TARGET_S} s")
    for label, command in COMMANDS.items():
        wall = median_wall(command, args.repeat)
        floor = floor or wall
        verdict = "" if label.startswith("python") else ("ok" if wall < TARGET_S else "SLOW")
        print(f"{label:<26} {wall:>9.3f} {wall / floor:>8.1f}  {verdict}")


if __name__ == "__main__":
    main()
