"""Type stubs of the compiled module ordu._ordu."""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__version__: str

#: A request body: a dict (or list) in Nomad's field names, or JSON text.
Body = Union[Dict[str, Any], str, bytes]
#: An object as Nomad's API returns it.
Obj = Dict[str, Any]

class OrduError(Exception):
    """Base of every error a Store raises; ``str(err)`` is the core's text."""

    kind: str
    code: int
    message: str
    data: Dict[str, Any]
    #: HTTP status Nomad answers this error with (writes, lists).
    http_status: int
    #: HTTP status on a read of one object (a missing object is 404).
    http_status_lookup: int

class NotFoundError(OrduError):
    """The job, evaluation, allocation, node or namespace does not exist."""

    what: str
    id: str
    index: int

class InvalidError(OrduError):
    """The request does not decode or breaks rules of the model."""

    stage: str
    errors: List[Dict[str, str]]

class ConflictError(OrduError):
    """A check-and-set (EnforceIndex) did not match."""

    current_index: int

class RegionError(OrduError):
    """The request names a region this store does not hold."""

    requested: str
    region: str

class LimitError(OrduError):
    """The request is over a configured bound."""

    path: str
    limit: int

class UnavailableError(OrduError):
    """The store's log refused the write (disk full, not the leader); nothing
    changed. Or a data directory could not be opened: then `reason`
    ("locked", "corrupt", "io" or "replay") and `path` are set too."""

    reason: str
    path: str

class Delivery:
    """An evaluation handed out in manual mode."""

    @property
    def eval(self) -> Obj:
        """The evaluation."""
    @property
    def token(self) -> str:
        """The token that fences this delivery."""
    @property
    def attempt(self) -> int:
        """Deliveries of the evaluation so far, this one included."""
    def to_dict(self) -> Obj:
        """``{"Eval", "Token", "Attempt"}``."""

class Store:
    """An embedded ordu store. Reads answer ``(value, index)`` and block with ``index=``.
    Methods naming a job, and the job, evaluation and allocation lists, take
    ``namespace`` (None: ``default``; ``*`` on lists: every namespace)."""

    def __init__(
        self,
        config: Optional[Union[Dict[str, Any], str, bytes]] = None,
        log: Optional[Callable[[int, bytes], int]] = None,
    ) -> None:
        """`log(after, entry)` is told each write's entry before it applies and
        answers the index it committed it at; raising refuses the write
        (UnavailableError). With ``config["data_dir"]`` the store is kept in
        that directory and recovered from it (not with `log`)."""
    @property
    def data_dir(self) -> Optional[str]:
        """The data directory the store is kept in (None: in memory)."""
    @property
    def recovery(self) -> Optional[Dict[str, int]]:
        """``{"snapshot_index", "replayed", "index"}`` of a durable store's
        recovery; None without data_dir."""
    def snapshot_now(self) -> int:
        """Writes a snapshot to the data directory now; returns its index."""
    def apply_entry(self, index: int, entry: bytes) -> int:
        """Applies an entry a log committed at `index`; returns the store's index."""
    def snapshot(self) -> bytes:
        """The whole state as snapshot bytes."""
    def restore(self, snapshot: bytes) -> None:
        """Replaces the state with one from `snapshot()` bytes."""
    @property
    def leader(self) -> bool:
        """Whether the store leads (takes writes, schedules); set by the host."""
    @leader.setter
    def leader(self, lead: bool) -> None: ...
    @property
    def region(self) -> str:
        """The store's region."""
    @property
    def index(self) -> int:
        """The index of the store's last write."""
    @property
    def max_request_bytes(self) -> int:
        """The largest request body the store decodes, in bytes."""
    def check_region(self, region: Optional[str]) -> None:
        """Raises RegionError unless region is None, empty or the store's."""
    def check_body_size(self, nbytes: int) -> None:
        """Raises LimitError when a body of nbytes is over the store's bound."""
    # jobs
    def register_job(
        self, request: Body, *, job_id: Optional[str] = None, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """Registers ``{"Job": {...}}``; returns ``{"EvalID", "Index", ...}``."""
    def plan_job(
        self, job_id: str, request: Body, *, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """A dry run of registering ``{"Job": {...}, "Diff": bool}``: Nomad's
        plan answer (``Annotations``, ``FailedTGAllocs``, ``JobModifyIndex``,
        ``Diff``); writes nothing."""
    def evaluate_job(
        self, job_id: str, *, region: Optional[str] = None, namespace: Optional[str] = None
    ) -> Obj:
        """Creates a job-register evaluation for an existing job."""
    def revert_job(
        self, job_id: str, request: Body, *, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """Registers a kept version's spec as a new version, from
        ``{"JobID", "JobVersion", "EnforcePriorVersion"}``; answers as a register."""
    def set_job_stability(
        self, job_id: str, request: Body, *, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """Marks a version stable or not, from ``{"JobID", "JobVersion", "Stable"}``:
        ``{"Index"}``."""
    def scale_job(
        self, job_id: str, request: Body, *, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """Scales a group from ``{"Count", "Target": {"Group"}, ...}``; answers as a
        register."""
    def force_periodic_job(
        self, job_id: str, *, region: Optional[str] = None, namespace: Optional[str] = None
    ) -> Obj:
        """Always raises: ordu has no periodic jobs (ConflictError, as Nomad's error)."""
    def dispatch_job(
        self, job_id: str, *, region: Optional[str] = None, namespace: Optional[str] = None
    ) -> Obj:
        """Always raises: ordu has no parameterized jobs (ConflictError)."""
    def deregister_job(
        self, job_id: str, *, purge: bool = False, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Obj:
        """Removes a job and stops its allocations."""
    def job(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """The full job and the read's index. The dict is the caller's own to
        change, at any depth."""
    def jobs(
        self, *, prefix: str = "", index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """Job list stubs sorted by ID, filtered by ID prefix."""
    def jobs_page(
        self, *, prefix: str = "", per_page: int = 0, next_token: str = "",
        reverse: bool = False, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int, Optional[str]]:
        """A page of the job list in ID order: ``(stubs, index, next_token)``.
        ``per_page`` 0 is every job; ``next_token`` (``<Namespace>.<ID>``) is
        a previous page's, None on the last page."""
    def evaluations(
        self, *, prefix: str = "", job: str = "", status: str = "", per_page: int = 0,
        next_token: str = "", reverse: bool = False, index: int = 0,
        wait: Optional[float] = None, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int, Optional[str]]:
        """Every evaluation, a page at a time: ``(evaluations, index,
        next_token)``, by CreateIndex then ID (token ``<CreateIndex>.<ID>``),
        or by ID with a ``prefix`` (token the ID); filtered by ``job`` and
        ``status``."""
    def allocations(
        self, *, prefix: str = "", job: str = "", status: str = "", per_page: int = 0,
        next_token: str = "", reverse: bool = False, index: int = 0,
        wait: Optional[float] = None, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int, Optional[str]]:
        """Every allocation's stub, a page at a time, as ``evaluations``
        (``status`` is the ClientStatus)."""
    def job_allocations(
        self, job_id: str, *, all: bool = False, index: int = 0,
        wait: Optional[float] = None, region: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """A job's allocation stubs."""
    def job_versions(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """``{"Versions": [newest first], "Diffs": None}``."""
    def job_summary(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """Nomad's ``JobSummary``: per group, allocations by client status and queued."""
    def job_scale_status(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """Nomad's ``JobScaleStatus``."""
    def job_deployments(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """Always ``[]``: ordu has no deployments."""
    def job_deployment(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[None, int]:
        """Always ``None``: ordu has no deployments."""
    def job_evaluations(
        self, job_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None, namespace: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """A job's evaluations."""
    def evaluation(
        self, eval_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """An evaluation."""
    def allocation(
        self, alloc_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """An allocation."""
    # namespaces
    def namespaces(
        self, *, prefix: str = "", index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """Every namespace whose name starts with ``prefix``, by name;
        ``default`` always among them."""
    def namespace(
        self, name: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """A namespace; NotFoundError (``what`` ``namespace``) when missing."""
    def upsert_namespace(
        self, namespace: Body, *, name: Optional[str] = None, region: Optional[str] = None
    ) -> Obj:
        """Creates or updates a namespace from ``{"Name", "Description",
        "Meta", "Quota"}``, or from a str that is only its name:
        ``{"Index"}``. ``name`` is the path's (a body without Name takes it)."""
    def delete_namespace(self, name: str, *, region: Optional[str] = None) -> Obj:
        """Deletes a namespace: ``{"Index"}``. ConflictError for ``default``
        and for one that holds a job; NotFoundError when missing."""
    # nodes
    def register_node(
        self, node: Body, *, node_id: Optional[str] = None, region: Optional[str] = None
    ) -> Obj:
        """Registers or updates a node (``{"Node": {...}}`` or the bare node)."""
    def deregister_node(self, node_id: str, *, region: Optional[str] = None) -> Obj:
        """Removes a node."""
    def update_node_status(
        self, node_id: str, update: Body, *, region: Optional[str] = None
    ) -> Obj:
        """Sets a node's status from ``{"Status": ...}``."""
    def update_node_drain(
        self, node_id: str, update: Optional[Body] = None, *, enable: Optional[str] = None,
        region: Optional[str] = None,
    ) -> Obj:
        """Sets a node's drain flag from ``{"Drain": bool}``, or from ``enable``
        (the text of ``?enable=``) with no body."""
    def drain_node(self, node_id: str, update: Body, *, region: Optional[str] = None) -> Obj:
        """Drains a node from ``{"DrainSpec": {"Deadline", "IgnoreSystemJobs"} | None,
        "MarkEligible": bool}``; ``DrainSpec`` None ends the drain."""
    def update_node_eligibility(
        self, node_id: str, update: Body, *, region: Optional[str] = None
    ) -> Obj:
        """Sets a node's scheduling eligibility from ``{"Eligibility": ...}``."""
    def evaluate_node(self, node_id: str, *, region: Optional[str] = None) -> Obj:
        """Creates node-update evaluations for the node's jobs and the system jobs."""
    def stop_allocation(self, alloc_id: str, *, region: Optional[str] = None) -> Obj:
        """Stops an allocation (it is replaced): ``{"EvalID", "Index"}``."""
    def node(
        self, node_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[Obj, int]:
        """A node."""
    def nodes(
        self, *, prefix: str = "", index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """Node stubs sorted by ID, filtered by ID prefix."""
    def nodes_page(
        self, *, prefix: str = "", per_page: int = 0, next_token: str = "",
        reverse: bool = False, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[List[Obj], int, Optional[str]]:
        """A page of the node list in ID order, as ``jobs_page``; the token is
        a node ID."""
    def eval_allocations(
        self, eval_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """An evaluation's allocation stubs (``[]`` for an unknown evaluation)."""
    def agent(
        self, what: str, *, name: str, datacenter: str, addr: str, port: int
    ) -> Any:
        """The agent and status endpoints' answers (``what``: self, members,
        leader, peers, regions)."""
    def node_allocations(
        self, node_id: str, *, index: int = 0, wait: Optional[float] = None,
        region: Optional[str] = None,
    ) -> Tuple[List[Obj], int]:
        """A node's allocations (full objects)."""
    # allocations, collection
    def update_alloc_client(
        self, alloc_id: Optional[str], update: Body, *, region: Optional[str] = None
    ) -> Obj:
        """Records a client's report on an allocation; returns ``{"Index": n}``."""
    def garbage_collect(self, older_than: int) -> Obj:
        """Collects terminal evaluations and allocations older than a unix-ns time."""
    def advance_drains(self) -> Obj:
        """Stops what drains past their deadline still move, and ends drains
        whose node runs nothing they move; a duty for a timer."""
    # grouped and queued scheduling modes
    def process_queued(self) -> int:
        """Queued mode: processes the evaluations of the writes answered so far
        as one group; returns the index up to which writes are processed."""
    def processing_behind(self) -> bool:
        """Whether answered writes left evaluations no group has processed."""
    # the event stream
    def events(
        self,
        topics: Optional[List[str]] = None,
        index: int = 0,
        namespace: Optional[str] = None,
    ) -> EventStream:
        """The event stream from index (0: the next write), filtered by
        "Topic:Key" topics and namespace: an iterator of frames."""
    # manual scheduling mode
    def dequeue_evaluation(
        self, types: List[str] = ..., *, wait: float = 0.0
    ) -> Optional[Delivery]:
        """The next ready evaluation of one of types, waiting up to wait seconds.
        One not processed within the store's nack_timeout is handed out again."""
    def process_evaluation(self, delivery: Delivery) -> Obj:
        """Schedules a dequeued evaluation, submits its plan and acks it."""

class EventStream:
    """Frames {"Index": n, "Events": [...]} of the store's event stream, one
    per write, in index order; iterating blocks (GIL released)."""
    def __iter__(self) -> "EventStream": ...
    def __next__(self) -> Obj: ...
    def next(self, timeout: Optional[float] = None) -> Optional[Obj]:
        """The next frame, waiting up to timeout seconds (None: until one
        comes); None when none came in time."""
    @property
    def index(self) -> int:
        """The index of the last frame handed out or passed over."""

def parse_duration(text: str) -> float:
    """Seconds of a Go duration (``1s``, ``1m30s``, ``0``); negative is 0. ValueError otherwise."""
def parse_index(text: str) -> int:
    """A blocking query's index: decimal digits, at most 2^64-1. ValueError otherwise."""
def parse_per_page(text: str) -> int:
    """A list's ``per_page`` (0 to 2^31-1); ValueError with the 400's text otherwise."""
def parse_bool(text: str) -> bool:
    """Go's boolean forms (``1``, ``t``, ``true``, ``True``, ``0``, ...). ValueError otherwise."""

ROUTED_JOB_SUFFIXES: List[str]
"""Sub-paths of `/v1/job/<id>/` that Nomad's HTTP API routes; no job ID ends in one."""
