"""The package's shape: only `tf_speed/` imports TensorFlow, no import cycle or private import, short classes."""

import ast

import pytest

from conftest import ROOT, imported_names, our_files_imported_by

PACKAGE = ROOT / "gradient_lab"
# The portable jobs: neither TensorFlow nor the TensorFlow speed path (`experiment`, `records` and
# `sweeps/runner.py` choose that path for a TensorFlow run, so they may import `tf_speed`).
PORTABLE = [
    "theory",
    "figures",
    "sweeps/intervals.py",
    "sweeps/tables.py",
    "records/tensorboard_events.py",
    "diagnostics.py",
    "models.py",
    "cli.py",
    "batches.py",
    "torch_speed.py",
]


def module_name(path):
    """`gradient_lab/figures/training.py` -> `gradient_lab.figures.training` (a package: its own name)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_files(under=PACKAGE):
    return sorted(under.rglob("*.py")) if under.is_dir() else [under]


def test_only_the_tensorflow_sub_package_imports_tensorflow():
    outside = [path for path in package_files() if "tf_speed" not in path.parts]
    importers = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in outside
        for name in imported_names(path)  # At the top or inside a function.
        if name.split(".")[0] == "tensorflow"
    ]
    assert importers == []
    stacked_model = PACKAGE / "tf_speed" / "stacked" / "model.py"
    assert "tensorflow" in imported_names(stacked_model)  # Not blind.


@pytest.mark.parametrize("job", PORTABLE)
def test_the_portable_jobs_import_neither_tensorflow_nor_its_speed_path(job):
    # Through every file of ours they import, too. grad_logging.py, the file users copy, still
    # imports TensorFlow (its helpers give the layer keys the verdicts read); it is the one exception.
    for path in package_files(PACKAGE / job):
        reached = [file for file in our_files_imported_by(path.relative_to(ROOT)) if file.name != "grad_logging.py"]
        for file in reached:
            names = imported_names(file)
            assert not [name for name in names if name.split(".")[0] == "tensorflow" or "tf_speed" in name], file


def test_the_portable_check_follows_imports():
    reached = our_files_imported_by("gradient_lab/records/run.py")
    assert PACKAGE / "tf_speed" / "whole_epochs.py" in reached  # A file that is not portable is caught.


def test_outside_the_sweeps_tensorflows_speed_path_is_imported_only_where_a_run_is_on_tensorflow():
    # JAX and PyTorch runs share the package with TensorFlow's: every import of `tf_speed` outside
    # it sits inside a function (a TensorFlow branch, such as `native.gradient`'s), none at the
    # top of a module. The sweeps train on TensorFlow only (`runner.check_backend`).
    def top_level_imports(path):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                yield from [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)

    outside = [path for path in package_files() if "tf_speed" not in path.parts and "sweeps" not in path.parts]
    scripts = [ROOT / name for name in ("mlp_tanh.py", "mlp_relu_deep.py", "grad_logging.py", "data.py")]
    found = [
        f"{path.name}: {name}" for path in outside + scripts for name in top_level_imports(path) if "tf_speed" in name
    ]
    assert found == []
    assert "gradient_lab.tf_speed.native" in imported_names(PACKAGE / "native.py")  # Inside a function: seen.


def our_imports():
    """`{module: the package's modules it imports}`, at the top of a file or inside a function."""
    modules = {module_name(path): path for path in package_files()}
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for name in imported_names(path) if name in modules and name != module}
    return graph


def test_no_import_cycle():
    graph, visiting, done, cycles = our_imports(), [], set(), []

    def visit(module):
        if module in visiting:
            cycles.append(visiting[visiting.index(module) :] + [module])
            return
        if module in done:
            return
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert cycles == []
    assert "gradient_lab.figures.saving" in graph["gradient_lab.figures.training"]  # The graph has edges.


def test_no_private_name_is_imported_from_another_module():
    imported = []
    for path in [*package_files(), *ROOT.glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradient_lab"):
                imported += [f"{path.name}: {alias.name}" for alias in node.names if alias.name.startswith("_")]
    assert imported == []


def test_no_class_of_the_package_is_much_over_100_lines():
    lengths = {
        f"{path.relative_to(ROOT)}: {node.name}": node.end_lineno - node.lineno + 1
        for path in package_files()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    }
    assert {name: length for name, length in lengths.items() if length > 110} == {}
    assert max(lengths.values()) > 90  # The lengths are read.
