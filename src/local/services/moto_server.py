"""
moto's server (PyPI moto[server]) with the retention AWS applies and moto does not, so that a stack running
for days holds a bounded amount of memory at a steady rate (started by src/local/services/moto.ts):

- DynamoDB Streams keep each record for MOTO_STREAM_RETENTION_SECONDS (AWS: 24 h, the default here; the stack
  passes LOCAL_STREAM_RETENTION_SECONDS). moto keeps every record of a table's stream forever. Older records are trimmed as on AWS: sequence numbers keep growing, and an
  iterator or a GetShardIterator at a trimmed position gets TrimmedDataAccessException.
- Shard iterators expire after 15 minutes, as on AWS (ExpiredIteratorException). moto keeps every iterator it ever
  handed out: one per GetRecords call.
- S3 lifecycle Expiration rules (PutBucketLifecycleConfiguration) are applied: objects older than `Days` under the
  rule's prefix are deleted. moto stores the rules but never applies them. MOTO_LIFECYCLE_DAY_SECONDS is the
  length of a lifecycle "day" (86400; tests shorten it to see expiration happen).

- A table tagged MOTO_STREAM_CLOCK_OFFSET_TAG=<ms> stamps its stream records (ApproximateCreationDateTime) that
  much off the wall clock: a test or benchmark puts its changes in another hour (across an hour boundary) without
  waiting for one. Untagged tables, and the stack's own, keep the wall clock.

- No model instance is tracked: moto's BaseModel appends every instance it ever creates (each item version
  written, each stream record, each S3 object, deleted or not) to a class-level list for its /moto-api/data.json
  dashboard, so every write stayed in memory forever, whatever the retention (~8 KB per order event). That
  dashboard lists nothing here; the stack uses /moto-api/ only as a readiness probe.
- DynamoDB stream records are kept as the JSON GetRecords returns, compressed (about 1 KB each instead of moto's
  ~6 KB of Python dicts), so a retention window of records costs an order of magnitude less memory, and a
  GetRecords joins stored text instead of running moto's serializer over every attribute of every record.
- S3 object bodies live in files under MOTO_S3_OBJECT_DIR (the stack's data dir), not in memory: moto keeps a
  body under 5 MB in memory, so the lake would otherwise grow the process forever. A file is opened per access
  (a lake of many objects holds no descriptors) and deleted with its object; the directory is emptied at start,
  since moto itself starts empty.

- A Scan page starts at its ExclusiveStartKey by bisection over the table's sorted hash keys (tables without a
  sort key, scanned on the table itself: the orders table): moto sorts the whole table for every page and walks to
  the start key, so a paged Scan's cost grew with the square of the table (the hourly reconcile of a table a
  soak had grown to 94,000 orders held the process for minutes). The pages and their order are moto's own.
- Scan and Query responses are written by json.dumps from moto's own result, not by moto's response serializer,
  which walks every attribute of every item against the botocore model: a reconciliation's Scan pages took most
  of moto's CPU at 150 events/s, and every other stage waited behind them.
- An item is built in one pass (one size check over the whole item; attribute names shared between items: about a
  quarter less memory per order item), and a condition expression's parse is kept for the same expression, names
  and values (a conditional PutItem parsed it twice).

- DescribeTable counts a table's items under the lock its writes take: moto iterated them unlocked, and a
  DescribeTable during a PutItem of a new key failed with a 500.

- A request's service is looked up once per host name: moto lists its own package folder and tries its URL
  patterns on every request (a tenth of the process's CPU at a steady rate). No access log is written (one line per
  request); werkzeug's warnings and errors still are.

- Memory freed by the request threads goes back to the system (malloc_trim after each sweep): werkzeug serves
  every request on a new thread, and glibc otherwise keeps the freed memory of each thread's arena (the stack sets
  MALLOC_ARENA_MAX too).

Everything else is moto's own server, with moto's own command-line arguments.
"""

import base64
import bisect
import collections
import ctypes
import functools
import json
import logging
import ctypes.util
import os
import shutil
import sys
import tempfile
import zlib
import threading
import time
from datetime import timedelta, timezone

from moto import backends
from moto.core import common_models
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.dynamodb import comparisons as dynamo_comparisons
from moto.dynamodb import responses as dynamo_responses
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models import table as dynamo_table
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict, bytesize
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.dynamodbstreams import models as streams_models
from moto.dynamodbstreams import responses as streams_responses
from moto.moto_server import werkzeug_app
from moto.s3 import models as s3_models
from moto.s3.models import s3_backends
from moto.server import main

STREAM_RETENTION_SECONDS = float(os.environ.get("MOTO_STREAM_RETENTION_SECONDS", "86400"))
LIFECYCLE_DAY_SECONDS = float(os.environ.get("MOTO_LIFECYCLE_DAY_SECONDS", "86400"))
SHARD_ITERATOR_TTL_SECONDS = 15 * 60
S3_OBJECT_DIR = os.environ.get("MOTO_S3_OBJECT_DIR")
STREAM_CLOCK_OFFSET_TAG = os.environ.get("MOTO_STREAM_CLOCK_OFFSET_TAG")
SWEEP_INTERVAL_SECONDS = float(
    os.environ.get(
        "MOTO_SWEEP_INTERVAL_SECONDS",
        str(max(1.0, min(60.0, STREAM_RETENTION_SECONDS / 10, LIFECYCLE_DAY_SECONDS / 10))),
    )
)

_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


def _untracked_new(cls, *_args, **_kwargs):
    return object.__new__(cls)


common_models.BaseModel.__new__ = staticmethod(_untracked_new)


class TrimmedDataAccessException(JsonRESTError):
    def __init__(self, sequence_number: int) -> None:
        super().__init__(
            _ERROR_PREFIX + "TrimmedDataAccessException",
            f"The operation attempted to read past the oldest stream record in a shard (sequence number {sequence_number} is older than the {STREAM_RETENTION_SECONDS:g} s retention)",
        )


class ExpiredIteratorException(JsonRESTError):
    def __init__(self) -> None:
        super().__init__(_ERROR_PREFIX + "ExpiredIteratorException", "Iterator expired")


_lock = threading.RLock()


# A shard's records are `items[i]` at sequence number starting + trimmed + i: trimming drops the oldest
# items and counts them, so sequence numbers never repeat.
def _trimmed(shard) -> int:
    return getattr(shard, "trimmed_count", 0)


def _next_sequence_number(shard) -> int:
    return shard.starting_sequence_number + _trimmed(shard) + len(shard.items)


def _stream_clock_offset(table) -> timedelta:
    for tag in getattr(table, "tags", None) or []:
        if STREAM_CLOCK_OFFSET_TAG and tag.get("Key") == STREAM_CLOCK_OFFSET_TAG:
            return timedelta(milliseconds=float(tag["Value"]))
    return timedelta(0)


_original_add = dynamo_table.StreamShard.add


class _StoredRecord:
    """
    A stream record as GetRecords returns it: its JSON, made once when the record is written, and compressed.
    moto's response serializer walked every attribute of every record of every GetRecords (about 0.5 ms of CPU
    per record, most of a catching-up relay's cost); the records never change once written.
    """

    __slots__ = ("created_at", "sequence_number", "_blob")

    def __init__(self, record: dict, sequence_number: int, created_at: float) -> None:
        self.created_at = created_at
        self.sequence_number = sequence_number
        change = dict(record["dynamodb"])
        # As moto's serializer writes it: epoch seconds, to the millisecond.
        change["ApproximateCreationDateTime"] = round(unix_time(change["ApproximateCreationDateTime"]), 3)
        self._blob = zlib.compress(dynamo_json_dump({**record, "dynamodb": change}).encode(), 1)

    def wire_json(self) -> str:
        return zlib.decompress(self._blob).decode()


def _add(self, old, new) -> None:
    with _lock:
        # moto numbers a record by len(items): make that count what was trimmed too.
        before = len(self.items)
        _original_add(self, old, new)
        if len(self.items) == before + 1:
            record = self.items[-1].record
            sequence_number = _next_sequence_number(self) - 1
            record["dynamodb"]["SequenceNumber"] = str(sequence_number)
            record["dynamodb"]["ApproximateCreationDateTime"] += _stream_clock_offset(self.table)
            self.items[-1] = _StoredRecord(record, sequence_number, time.time())


dynamo_table.StreamShard.add = _add


class _IndexedItems(collections.defaultdict):
    """
    A table's items (moto's `Table.items`: hash key -> item, or -> {range key -> item}) that also keeps its hash
    keys sorted, as moto's Scan orders them: a Scan page starts at its ExclusiveStartKey by bisection.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(dict, *args[1:], **kwargs)
        self.index_lock = threading.Lock()
        self.sorted_keys: list = sorted(self.keys())

    def __setitem__(self, key, value) -> None:
        with self.index_lock:
            if key not in self:
                bisect.insort(self.sorted_keys, key)
            super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        with self.index_lock:
            super().__delitem__(key)
            self._unindex(key)

    def pop(self, key, *default):
        with self.index_lock:
            present = key in self
            value = super().pop(key, *default)
            if present:
                self._unindex(key)
            return value

    def _unindex(self, key) -> None:
        at = bisect.bisect_left(self.sorted_keys, key)
        if at < len(self.sorted_keys) and self.sorted_keys[at] == key:
            del self.sorted_keys[at]

    def __reduce__(self):
        # copy.deepcopy (table backups and restores): rebuilt through __setitem__, the lock not copied.
        return (_IndexedItems, (), None, None, iter(self.items()))


_original_table_init = dynamo_table.Table.__init__


def _table_init(self, *args, **kwargs) -> None:
    _original_table_init(self, *args, **kwargs)
    self.items = _IndexedItems(None, self.items)


dynamo_table.Table.__init__ = _table_init


def _table_len(self) -> int:
    """A table's item count (DescribeTable's ItemCount) without iterating its items while another request adds one.

    moto iterates the table's items unlocked, and a PutItem of a new key on another request thread made it fail
    with a 500 ("dictionary changed size during iteration"): 60 times in the first hour of a 150 events/s soak,
    whose one DescribeTable a minute the SDK's retries mostly saved.
    """
    items = self.items
    if not isinstance(items, _IndexedItems):
        return _original_table_len(self)
    with items.index_lock:
        if not self.has_range_key:
            return len(items)
        per_hash_key = list(items.values())
    return sum(len(value) for value in per_hash_key)


_original_table_len = dynamo_table.Table.__len__
dynamo_table.Table.__len__ = _table_len

# moto's Scan sorts every item of the table for each page and walks from the first one to the page's
# ExclusiveStartKey: a paged Scan of n items costs O(n^2 log n / page size) (a 94,000-item table: minutes of CPU,
# during which the single moto process served the pipeline's writes slowly). A Scan of a table without a sort
# key, on the table itself, now starts at its key by bisection: the same pages, in the same order.
_scan_items = threading.local()
_original_all_items = dynamo_table.Table.all_items
_original_scan = dynamo_table.Table.scan


def _all_items(self):
    pending = getattr(_scan_items, "value", None)
    if pending is not None and pending[0] is self:
        return pending[1]
    return _original_all_items(self)


def _scan(self, filters, limit, exclusive_start_key, filter_expression=None, index_name=None,
          consistent_read=False, projection_expression=None, segments=(None, None)):
    items = self.items
    if index_name or self.range_key_attr or not isinstance(items, _IndexedItems):
        return _original_scan(self, filters, limit, exclusive_start_key, filter_expression, index_name,
                              consistent_read, projection_expression, segments)
    with items.index_lock:
        start = 0
        if exclusive_start_key is not None and self.hash_key_attr in exclusive_start_key:
            start = bisect.bisect_right(
                items.sorted_keys, DynamoType(exclusive_start_key[self.hash_key_attr])
            )
        keys = items.sorted_keys[start:]
    # Lazily: moto's loop stops at the page's end, so only that page's items (and its segment's) are looked at.
    page = (item for item in (items.get(key) for key in keys) if item is not None)
    _scan_items.value = (self, page)
    try:
        return _original_scan(self, filters, limit, exclusive_start_key, filter_expression, index_name,
                              consistent_read, projection_expression, segments)
    finally:
        _scan_items.value = None


dynamo_table.Table.all_items = _all_items
dynamo_table.Table.scan = _scan

_original_iterator_init = streams_models.ShardIterator.__init__


def _iterator_init(self, streams_backend, stream_shard, shard_iterator_type, sequence_number=None):
    with _lock:
        _original_iterator_init(self, streams_backend, stream_shard, shard_iterator_type, sequence_number)
        if shard_iterator_type == "TRIM_HORIZON":
            self.sequence_number = stream_shard.starting_sequence_number + _trimmed(stream_shard)
        elif shard_iterator_type == "LATEST":
            self.sequence_number = _next_sequence_number(stream_shard)
        elif int(self.sequence_number) < stream_shard.starting_sequence_number + _trimmed(stream_shard):
            raise TrimmedDataAccessException(int(self.sequence_number))
        self.created_at = time.time()


streams_models.ShardIterator.__init__ = _iterator_init


def _get_records(self, iterator_arn: str, limit: int) -> str:
    """GetRecords' response body: the records' stored JSON, and the iterator after them (as moto's ShardIterator.get)."""
    iterator = self.shard_iterators.pop(iterator_arn, None)
    if iterator is None or time.time() - iterator.created_at > SHARD_ITERATOR_TTL_SECONDS:
        raise ExpiredIteratorException()
    # moto keeps a used iterator; AWS allows reusing one within its 15 minutes too.
    self.shard_iterators[iterator_arn] = iterator
    shard = iterator.stream_shard
    with _lock:
        start = int(iterator.sequence_number)
        index = start - shard.starting_sequence_number - _trimmed(shard)
        if index < 0:
            raise TrimmedDataAccessException(start)
        records = shard.items[index : index + limit]
        if records:
            following = streams_models.ShardIterator(self, shard, "AFTER_SEQUENCE_NUMBER", records[-1].sequence_number)
        else:
            following = streams_models.ShardIterator(self, shard, "AT_SEQUENCE_NUMBER", start)
        body = ", ".join(record.wire_json() for record in records)
    self.shard_iterators[following.arn] = following
    return f'{{"Records": [{body}], "NextShardIterator": {json.dumps(following.arn)}}}'


def _get_records_response(self):
    limit = self._get_param("Limit")
    body = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
    return body, {"Content-Type": "application/x-amz-json-1.0"}


streams_models.DynamoDBStreamsBackend.get_records = _get_records
streams_responses.DynamoDBStreamsHandler.get_records = _get_records_response


def _wire_value(value):
    """What json.dumps cannot write itself: binary values (B, BS), which the wire carries as base64."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write {type(value).__name__} in a DynamoDB response")


def _json_items_response(handler_method):
    """Scan's and Query's response written by json.dumps instead of moto's serializer (same body, ~10x less CPU).

    moto's handler builds the result (items already plain {type: value} dicts: DynamoResult) and its response
    serializer then walks every attribute of every item against the botocore model, most of a Scan's CPU: a
    reconciliation's 1 MB pages held moto (single process, shared by every stage) for minutes at 150 events/s.
    """

    @functools.wraps(handler_method)
    def _respond(self):
        result = handler_method(self).result
        return json.dumps(result, default=_wire_value, separators=(",", ":")), {
            "Content-Type": "application/x-amz-json-1.0"
        }

    return _respond


dynamo_responses.DynamoHandler.scan = _json_items_response(dynamo_responses.DynamoHandler.scan)
dynamo_responses.DynamoHandler.query = _json_items_response(dynamo_responses.DynamoHandler.query)


def _item_init(self, hash_key, range_key, attrs) -> None:
    """moto's Item, its size checked once over the whole item and its attribute names shared between items.

    moto's attribute dict re-sums the size of every attribute already in it at each insert, and an item written by
    PutItem held its own copy of each attribute name (parsed anew from each request's JSON): about 800 of the 3,400
    bytes an order item cost. The same attributes, the same limit (moto's 405,000 bytes: an item over it fails as
    before).
    """
    self.hash_key = hash_key
    self.range_key = range_key
    attributes = {
        (sys.intern(name) if type(name) is str else name): DynamoType(value) for name, value in attrs.items()
    }
    # A prefix of the item over the limit means the whole item is: one sum says the same as moto's per-insert sums.
    if sum(bytesize(name) + value.size() for name, value in attributes.items()) > 405000:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict(attributes)


dynamo_type.Item.__init__ = _item_init

# A conditional PutItem has its ConditionExpression parsed twice (once to validate the request, once to apply it),
# about a seventh of moto's CPU at a steady rate: the parse of the same expression, names and values is kept (a
# small LRU). The tree is never changed once built; what a parse records (the names and values it found, which
# the handler checks for unused ones) is replayed on each parser that gets a kept tree. A parse that fails is
# not kept: the next one raises the same error.
_PARSED_CONDITIONS_KEPT = 256
_parsed_conditions: collections.OrderedDict = collections.OrderedDict()
_parsed_conditions_lock = threading.Lock()
_original_condition_parse = dynamo_comparisons.ConditionExpressionParser.parse


def _condition_parse(self):
    key = (
        self.condition_expression,
        json.dumps(self.expression_attribute_names, sort_keys=True, default=repr),
        json.dumps(self.expression_attribute_values, sort_keys=True, default=repr),
    )
    with _parsed_conditions_lock:
        kept = _parsed_conditions.get(key)
        if kept is not None:
            _parsed_conditions.move_to_end(key)
    if kept is None:
        names_before = len(self.expr_attr_names_found)
        values_before = len(self.expr_attr_values_found)
        op = _original_condition_parse(self)
        kept = (op, self.expr_attr_names_found[names_before:], self.expr_attr_values_found[values_before:])
        with _parsed_conditions_lock:
            _parsed_conditions[key] = kept
            if len(_parsed_conditions) > _PARSED_CONDITIONS_KEPT:
                _parsed_conditions.popitem(last=False)
        return op
    op, names_found, values_found = kept
    self.expr_attr_names_found.extend(names_found)
    self.expr_attr_values_found.extend(values_found)
    return op


dynamo_comparisons.ConditionExpressionParser.parse = _condition_parse


class _ObjectFile:
    """An S3 object body in a file under S3_OBJECT_DIR, with the file methods moto's FakeKey uses on its buffer."""

    def __init__(self, *_args, **_kwargs) -> None:
        descriptor, self._path = tempfile.mkstemp(dir=S3_OBJECT_DIR, prefix="object-")
        os.close(descriptor)
        self._position = 0
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")  # what FakeKey expects of a disposed buffer

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position}.get(whence)
        self._position = (os.path.getsize(self._path) if base is None else base) + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        self._check_open()
        with open(self._path, "rb") as file:
            file.seek(self._position)
            data = file.read(size)
        self._position += len(data)
        return data

    def write(self, data: bytes) -> int:
        self._check_open()
        with open(self._path, "r+b") as file:
            file.seek(self._position)
            written = file.write(data)
        self._position += written
        return written

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        size = self._position if size is None else size
        os.truncate(self._path, size)
        return size

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass

    def __del__(self) -> None:
        # A key dropped without dispose() (its bucket deleted, say) takes its file with it.
        self.close()


if S3_OBJECT_DIR:
    shutil.rmtree(S3_OBJECT_DIR, ignore_errors=True)
    os.makedirs(S3_OBJECT_DIR)
    s3_models.tempfile = type("ObjectFiles", (), {"SpooledTemporaryFile": _ObjectFile})


def _backends(backend_dict):
    for by_region in list(backend_dict.values()):
        yield from list(by_region.values())


def _trim_streams(now: float) -> None:
    for backend in _backends(streams_models.dynamodbstreams_backends):
        with _lock:
            for arn, iterator in list(backend.shard_iterators.items()):
                if now - getattr(iterator, "created_at", now) > SHARD_ITERATOR_TTL_SECONDS:
                    del backend.shard_iterators[arn]
    for backend in _backends(dynamodb_backends):
        for table in list(backend.tables.values()):
            shard = getattr(table, "stream_shard", None)
            if shard is None:
                continue
            with _lock:
                expired = 0
                for record in shard.items:
                    if now - getattr(record, "created_at", now) <= STREAM_RETENTION_SECONDS:
                        break
                    expired += 1
                if expired:
                    del shard.items[:expired]
                    shard.trimmed_count = _trimmed(shard) + expired


def _matches(rule, key_name: str) -> bool:
    prefix = rule.prefix
    if prefix is None and rule.filter is not None:
        prefix = rule.filter.prefix if rule.filter.and_filter is None else rule.filter.and_filter.prefix
    return key_name.startswith(prefix or "")


def _apply_lifecycle(now: float) -> None:
    for backend in _backends(s3_backends):
        for bucket in list(backend.buckets.values()):
            rules = [r for r in bucket.rules if r.status == "Enabled" and r.expiration_days]
            if not rules:
                continue
            for name, key in list(bucket.keys.items()):
                # moto's timestamps are naive UTC.
                age = now - key.last_modified.replace(tzinfo=timezone.utc).timestamp()
                if any(_matches(r, name) and age > float(r.expiration_days) * LIFECYCLE_DAY_SECONDS for r in rules):
                    backend.delete_object(bucket.name, name)


def _malloc_trim():
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    trim = getattr(libc, "malloc_trim", None)  # glibc only
    return (lambda: trim(0)) if trim else (lambda: None)


def _sweep_forever() -> None:
    release_freed_memory = _malloc_trim()
    while True:
        time.sleep(SWEEP_INTERVAL_SECONDS)
        now = time.time()
        try:
            _trim_streams(now)
            _apply_lifecycle(now)
            release_freed_memory()
        except Exception as error:  # a sweep that fails is tried again next interval
            print(f"moto retention sweep failed: {error!r}", file=sys.stderr, flush=True)


# A request's service is found from its host name (moto_server/werkzeug_app.py): moto lists its own package
# folder (os.listdir and an isdir per entry, about 150 of them) and then tries about 150 URL patterns, for every
# request. That was a tenth of the process's CPU at the soak's steady rate. The package does not change while the
# server runs, and the answer depends only on the host name.
_MOTO_MODULES = frozenset(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MOTO_MODULES
werkzeug_app.DomainDispatcherApplication.get_backend_for_host = functools.lru_cache(maxsize=1024)(
    werkzeug_app.DomainDispatcherApplication.get_backend_for_host
)


# werkzeug's access log, one line per request (about 230 KB a minute at the soak's rate, forever, in the stack's
# moto.log): warnings and errors are still logged.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    threading.Thread(target=_sweep_forever, name="retention-sweep", daemon=True).start()
    main(sys.argv[1:])
