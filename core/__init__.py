"""The ground floor: settings (config), units, the database and its migrations. It imports
nothing of Tanhui's; every other package stands on it.

Importing eth-account imports py_ecc (through eth-keyfile), whose `__init__` raises Python's
recursion limit to 100,000 for the whole process. With that limit a deeply nested JSON value
makes `json.loads` recurse in C until the thread's stack overflows, and the process dies with
SIGSEGV instead of raising RecursionError. Every entry point (the CLI, the API, the exchange
process) imports this package, through its settings, before it serves anything, so py_ecc is
imported here, once, and the default limit put back; py_ecc never raises it again.
"""

import contextlib as _contextlib
import sys as _sys

DEFAULT_RECURSION_LIMIT = 1000

with _contextlib.suppress(ImportError):  # py_ecc comes with eth-account
    import py_ecc  # noqa: F401  (imported for its side effect, undone below)
_sys.setrecursionlimit(min(_sys.getrecursionlimit(), DEFAULT_RECURSION_LIMIT))
