"""Moves this folder to the end of the import path, for every benchmark to import first.

Python puts a script's folder first on the path, and `email.py` here (named after what
it measures) would then stand in for the standard library's `email`, which almost
everything imports (http.client, httpx, aiosmtplib). At the end of the path the
standard library and the packages come first, and the benchmarks' own helpers (`_cli`,
`_proc`, named like nothing else) are still found. Run as `python bench/X.py`.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))
