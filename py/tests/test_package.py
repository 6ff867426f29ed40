"""The package's shape: exports, type stubs that match the module, py.typed."""

from __future__ import annotations

import ast
import inspect
import pathlib

import ordu
import ordu._ordu as native

PKG = pathlib.Path(ordu.__file__).resolve().parent


def _stub_classes() -> dict:
    tree = ast.parse((PKG / "_ordu.pyi").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return out


def test_installed_with_stubs_and_marker():
    assert (PKG / "py.typed").exists()
    assert (PKG / "_ordu.pyi").exists()


def test_stubs_match_the_compiled_module():
    stubs = _stub_classes()
    for cls in (native.Store, native.Delivery):
        public = {n for n in dir(cls) if not n.startswith("_")}
        declared = stubs[cls.__name__] - {"__init__"}
        assert public == declared, f"{cls.__name__}: stubs and module differ: {public ^ declared}"
    for name in ("OrduError", "NotFoundError", "InvalidError", "ConflictError",
                 "RegionError", "LimitError", "UnavailableError"):
        assert name in stubs and hasattr(native, name)


def test_store_signatures_match_the_stubs():
    tree = ast.parse((PKG / "_ordu.pyi").read_text())
    store = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Store")
    for fn in store.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_") or any(
            (isinstance(d, ast.Name) and d.id == "property")
            or (isinstance(d, ast.Attribute) and d.attr == "setter")
            for d in fn.decorator_list
        ):
            continue
        stub_params = [a.arg for a in fn.args.args[1:]] + [a.arg for a in fn.args.kwonlyargs]
        sig = inspect.signature(getattr(ordu.Store, fn.name))
        real = [p for p in sig.parameters if p != "self"]
        assert real == stub_params, f"Store.{fn.name}: {real} != stub {stub_params}"


def test_public_names():
    for name in ordu.__all__:
        assert getattr(ordu, name) is not None
    assert ordu.Store is native.Store
    assert ordu.__version__ == native.__version__
