"""A pytest plugin: test code that talks to Nomad against ordu instead.

Installed with the package (entry point ``pytest11``), so in any project with
``ordu`` installed these fixtures are available without imports:

``ordu_server``
    The address (``http://127.0.0.1:PORT``) of an :mod:`ordu.http` server on a
    free loopback port, serving a fresh store for the test. Point a Nomad
    client at it (python-nomad: ``nomad.Nomad(host="127.0.0.1", port=PORT)``).
``ordu_http``
    The :class:`ordu.http.Server` behind ``ordu_server`` (``.address``,
    ``.store``, ``.port``).
``ordu_store``
    The :class:`ordu.Store` behind ``ordu_server``, to set up state directly
    (nodes, jobs) or look at it without HTTP.
``ordu_store_config``
    The configuration of that store (``None``: the defaults); override it in a
    test module or conftest to serve another region or other limits.
``ordu_demo_nodes``
    How many ready demo nodes (:func:`ordu.http.demo_node`: linux/amd64,
    docker/exec/java drivers, 4,000 MHz, 8 GiB, in ``dc1``) the store has
    before the test starts, so that jobs place. 0 unless set, from the most
    specific of: the marker ``@pytest.mark.ordu_demo_nodes(3)`` on a test,
    class or module; an override of this fixture; the ini option
    ``ordu_demo_nodes = 3`` (``pytest.ini``, or ``[tool.pytest.ini_options]``
    in ``pyproject.toml``).

Each fixture is per test, so tests never see each other's jobs. A server takes
about a millisecond to start and to stop.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Union

import pytest

from ordu._ordu import Store
from ordu.http import Server, _with_grouped, demo_node

__all__ = ["ordu_store_config", "ordu_demo_nodes", "ordu_http", "ordu_server", "ordu_store"]

# A bound on what a marker or ini option may ask for (each node is a write).
MAX_DEMO_NODES = 10000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("ordu_demo_nodes", "ready demo nodes in the store of ordu_server (default 0)",
                  default="0")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ordu_demo_nodes(n): the ordu_server store starts with n ready demo nodes")


def _demo_count(value: Any, where: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{where}: want a number of nodes, not {value!r}") from None
    if not 0 <= n <= MAX_DEMO_NODES:
        raise pytest.UsageError(f"{where}: want 0 to {MAX_DEMO_NODES} nodes, not {n}")
    return n


@pytest.fixture
def ordu_demo_nodes(request: pytest.FixtureRequest) -> int:
    """How many demo nodes the store of ``ordu_server`` starts with: the
    ``ordu_demo_nodes`` marker, else the ini option, else 0."""
    marker = request.node.get_closest_marker("ordu_demo_nodes")
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            raise pytest.UsageError("ordu_demo_nodes marker: want one number, e.g. "
                                    "@pytest.mark.ordu_demo_nodes(3)")
        return _demo_count(marker.args[0], "ordu_demo_nodes marker")
    return _demo_count(request.config.getini("ordu_demo_nodes"), "ordu_demo_nodes ini option")


@pytest.fixture
def ordu_store_config() -> Optional[Union[Dict[str, Any], str]]:
    """The configuration of the store the server serves (None: defaults;
    grouped scheduling, as ``python -m ordu.http``, unless it names a mode)."""
    return None


@pytest.fixture
def ordu_http(ordu_store_config: Optional[Union[Dict[str, Any], str]],
              ordu_demo_nodes: int) -> Iterator[Server]:
    """A running ordu HTTP server on a free loopback port, stopped after the test."""
    store = Store(_with_grouped(ordu_store_config))
    for i in range(ordu_demo_nodes):
        store.register_node({"Node": demo_node(i)})
    server = Server(store, "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ordu_server(ordu_http: Server) -> str:
    """The base URL of a running ordu HTTP server, e.g. ``http://127.0.0.1:40123``."""
    return ordu_http.address


@pytest.fixture
def ordu_store(ordu_http: Server) -> Store:
    """The store behind ``ordu_server``."""
    return ordu_http.store
