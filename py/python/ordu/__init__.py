"""ordu: Nomad's job, evaluation and allocation state machine, embedded.

A :class:`Store` holds jobs, evaluations, allocations and nodes and schedules
the jobs onto the nodes, as a Nomad cluster would, inside this process. Bodies
are dicts in Nomad's field names (``ID``, ``TaskGroups``, ``MemoryMB``); JSON
strings are accepted as input too.

Writes return Nomad's reply dict (``EvalID``, ``Index``, ...). Reads return a
tuple ``(value, index)``; pass ``index=`` to block until something changes::

    import ordu

    store = ordu.Store()
    store.register_node({"Node": {...}})
    reply = store.register_job({"Job": job})
    index = 0
    while True:
        allocs, index = store.job_allocations(job["ID"], index=index, wait=30)

Errors raise :class:`OrduError` subclasses carrying the error's data:
:class:`NotFoundError`, :class:`InvalidError` (``.errors``: a list of
``{"path", "message"}``), :class:`ConflictError` (``.current_index``),
:class:`RegionError`, :class:`LimitError` and :class:`UnavailableError` (the
store's log refused the write).

A store made with ``{"mode": "manual"}`` runs no scheduler by itself: the host
takes evaluations with :meth:`Store.dequeue_evaluation` and runs them with
:meth:`Store.process_evaluation`, from threads of its own. With
``{"mode": "grouped"}`` a write returns once its evaluations and those of the
writes that came meanwhile are processed, together; with ``{"mode": "queued"}``
it returns at once and the host processes them with
:meth:`Store.process_queued` (when :meth:`Store.processing_behind`). In both,
a read first processes the writes answered before it.

``ordu.http`` serves Nomad's HTTP API over a store; ``ordu.testing`` is a pytest
plugin whose ``ordu_server`` fixture starts such a server for a test.
"""

from ordu._ordu import (
    ConflictError,
    Delivery,
    EventStream,
    InvalidError,
    LimitError,
    NotFoundError,
    OrduError,
    RegionError,
    Store,
    UnavailableError,
    __version__,
)

__all__ = [
    "Store",
    "Delivery",
    "EventStream",
    "OrduError",
    "NotFoundError",
    "InvalidError",
    "ConflictError",
    "RegionError",
    "LimitError",
    "UnavailableError",
    "__version__",
]
