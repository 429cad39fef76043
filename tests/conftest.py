"""Shared test helpers: the repo on sys.path and runners for the real scripts."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_script(script, *args, cwd=None):
    """Runs `python <script> <args>` from the repo and returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


# Runs a script's main() in a fresh interpreter, optionally without the private Keras hook, and
# prints its exit status, this repo's modules it loaded, and every import of pandas or dask in
# them (and of scipy outside seed_statistics). scikit-learn itself imports scipy, and pandas
# where it is installed.
RUNNER = """
    import ast, json, runpy, sys
    sys.path.insert(0, {root!r})
    if {drop_hook}:  # As a Keras would be that renamed or dropped the private method.
        from gradient_lab import cli
        cli.start_tensorflow()
        from gradient_lab import keras_internals
        keras_internals.PRIVATE_METRICS_READ = "_a_method_this_keras_does_not_have"
    sys.argv = [{script!r}, *{args!r}]
    try:
        runpy.run_path({script!r}, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code
    heavy = []
    ours = [module.__file__ for module in list(sys.modules.values())
            if (getattr(module, "__file__", None) or "").startswith({root!r})]
    for path in [{script!r}, *ours]:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [node.module + "." + alias.name for alias in node.names]
            else:
                continue
            # SciPy gives the seeds' confidence intervals (seed_statistics); pandas and Dask are the sweeps'.
            heavy += [path + ": " + name for name in names if name.split(".")[0] in ("pandas", "dask")
                      or name.split(".")[0] == "scipy" and not path.endswith("seed_statistics.py")]
    modules = sorted(name for name, module in list(sys.modules.items())
                     if (getattr(module, "__file__", None) or "").startswith({root!r}))
    print(json.dumps({{"status": status, "heavy": sorted(set(heavy)), "modules": modules}}))
"""


def run_audited(script, *args, drop_hook=False):
    """Runs a script's main() in a fresh interpreter; returns its outcome (`status`, `heavy`) and the process."""
    code = textwrap.dedent(RUNNER).format(
        root=str(ROOT), script=str(ROOT / script), args=[str(a) for a in args], drop_hook=drop_hook
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    outcome = json.loads(process.stdout.strip().splitlines()[-1])
    return outcome, process
