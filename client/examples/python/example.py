#!/usr/bin/env python3
"""Cairn from Python: put, get, scan, a conditional batch, transactions that
retry on conflict, and a change stream (Replication.Tail).

Each step prints what it does and checks its own result. The program exits 0
only if every check held, 1 if one failed or a call returned an error.

Needs Debian's python3-grpcio and python3-grpc-tools; the Python stubs are
generated from the repository's proto/ directory when the program starts.

  python3 example.py [--endpoint HOST:PORT] [--token TOKEN]
                     [--proto-dir DIR] [--stubs-dir DIR]
"""

import argparse
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_FILES = ["cairn/v1/types.proto", "cairn/v1/kv.proto",
               "cairn/v1/replication.proto"]
RPC_TIMEOUT = 10     # seconds, for every call
TAIL_TIMEOUT = 30    # seconds, for the whole Tail stream
WORKERS = 2          # concurrent transactional incrementers
INCREMENTS = 10      # increments per worker
MAX_ATTEMPTS = 50    # transaction attempts per increment before giving up

# The generated modules, imported by load_stubs().
types_pb2 = kv_pb2 = kv_pb2_grpc = None
replication_pb2 = replication_pb2_grpc = None

_print_lock = threading.Lock()


def say(*args):
    with _print_lock:
        print(*args, flush=True)


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def text(b):
    return b.decode(errors="backslashreplace")


def load_stubs(proto_dir, stubs_dir):
    """Generates the *_pb2 modules with grpc_tools.protoc and imports them."""
    global types_pb2, kv_pb2, kv_pb2_grpc
    global replication_pb2, replication_pb2_grpc
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
                    "--python_out=" + stubs_dir,
                    "--grpc_python_out=" + stubs_dir] +
                   [os.path.join(proto_dir, p) for p in PROTO_FILES],
                   check=True, timeout=120)
    sys.path.insert(0, stubs_dir)
    from cairn.v1 import types_pb2 as t, kv_pb2 as k, kv_pb2_grpc as kg
    from cairn.v1 import replication_pb2 as r, replication_pb2_grpc as rg
    types_pb2, kv_pb2, kv_pb2_grpc = t, k, kg
    replication_pb2, replication_pb2_grpc = r, rg


class Client:
    """The KV and Replication stubs on one channel, plus the call options."""

    def __init__(self, endpoint, token):
        limit = 24 << 20  # accept messages as large as the server sends
        self.channel = grpc.insecure_channel(endpoint, options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit)])
        self.kv = kv_pb2_grpc.KVStub(self.channel)
        self.replication = replication_pb2_grpc.ReplicationStub(self.channel)
        # With auth on, every call carries "authorization: Bearer <token>".
        self.opts = {"timeout": RPC_TIMEOUT}
        if token:
            self.opts["metadata"] = [("authorization", "Bearer " + token)]


class Writes:
    """Every write this program made, by sequence, for the Tail check."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_seq = {}  # seq -> (op name, key, value, (group first, size))

    def add(self, seq, op, key, value, group=None):
        """group: (first seq, size) of the atomic write seq belongs to; a
        lone put or a one-write transaction is its own group."""
        with self._lock:
            assert seq not in self.by_seq, "seq %d reported twice" % seq
            self.by_seq[seq] = (op, key, value, group or (seq, 1))


# -- put, get, scan -----------------------------------------------------------

def put_and_get(c, prefix, writes):
    key = prefix + b"greeting"
    seq = c.kv.Put(kv_pb2.PutRequest(key=key, value=b"hello"), **c.opts).seq
    say("put %s = 'hello' -> seq %d" % (text(key), seq))
    writes.add(seq, "PUT", key, b"hello")

    r = c.kv.Get(kv_pb2.GetRequest(key=key), **c.opts)
    say("get %s -> found=%s value=%r revision=%d read_seq=%d" %
        (text(key), r.found, text(r.value), r.revision, r.read_seq))
    check(r.found and r.value == b"hello", "get returned the value put")
    check(r.revision == seq, "the key's revision is the put's seq")
    check(r.read_seq >= seq, "the read saw the put")

    missing = prefix + b"no-such-key"
    r = c.kv.Get(kv_pb2.GetRequest(key=missing), **c.opts)
    say("get %s -> found=%s" % (text(missing), r.found))
    check(not r.found and r.revision == 0, "an absent key is not found")
    return seq


def scan_prefix(c, prefix, writes):
    fruit = {b"apple": b"red", b"banana": b"yellow", b"cherry": b"dark red"}
    items = prefix + b"fruit/"
    revisions = {}
    for name in (b"cherry", b"apple", b"banana"):  # any order; Scan sorts
        seq = c.kv.Put(kv_pb2.PutRequest(key=items + name, value=fruit[name]),
                       **c.opts).seq
        say("put %s = %r -> seq %d" % (text(items + name), text(fruit[name]),
                                       seq))
        writes.add(seq, "PUT", items + name, fruit[name])
        revisions[items + name] = seq

    found, read_seqs = [], set()
    for chunk in c.kv.Scan(kv_pb2.ScanRequest(prefix=items), **c.opts):
        read_seqs.add(chunk.read_seq)
        found.extend(chunk.kvs)
    say("scan prefix %s -> %d keys at read_seq %s" %
        (text(items), len(found), ",".join(map(str, sorted(read_seqs)))))
    for kv in found:
        say("  %s = %r (revision %d)" % (text(kv.key), text(kv.value),
                                         kv.revision))
    check([kv.key for kv in found] == [items + n for n in sorted(fruit)],
          "scan returned the three keys in key order")
    check(all(kv.value == fruit[kv.key[len(items):]] and
              kv.revision == revisions[kv.key] for kv in found),
          "scan returned each key's value and revision")
    check(len(read_seqs) == 1 and read_seqs.pop() >= max(revisions.values()),
          "every chunk reads at one sequence that includes the puts")


# -- a batch with conditions --------------------------------------------------

def conditional_batch(c, prefix, writes):
    """Create-if-absent: two puts applied only if 'greeting' exists and
    'config' does not. The second, identical attempt must fail on
    condition 1 and write nothing."""
    greeting, config, owner = (prefix + b"greeting", prefix + b"config",
                               prefix + b"config-owner")
    Cond = kv_pb2.Condition

    def attempt(value):
        return c.kv.Batch(kv_pb2.BatchRequest(
            conditions=[Cond(kind=Cond.EXISTS, key=greeting),
                        Cond(kind=Cond.ABSENT, key=config)],
            ops=[kv_pb2.BatchOp(put=types_pb2.PutOp(key=config, value=value)),
                 kv_pb2.BatchOp(put=types_pb2.PutOp(key=owner,
                                                    value=b"example.py"))]),
            **c.opts)

    r = attempt(b"v1")
    say("batch if exists(%s) and absent(%s): put %s = 'v1', put %s -> "
        "succeeded=%s seq=%d failed_condition=%d" %
        (text(greeting), text(config), text(config), text(owner),
         r.succeeded, r.seq, r.failed_condition))
    check(r.succeeded and r.failed_condition == -1 and r.seq > 0,
          "the create-if-absent batch succeeded")
    # The batch occupies seq - len(ops) + 1 .. seq, one seq per op in order.
    writes.add(r.seq - 1, "PUT", config, b"v1", (r.seq - 1, 2))
    writes.add(r.seq, "PUT", owner, b"example.py", (r.seq - 1, 2))
    created_at = r.seq - 1

    r = attempt(b"v2")
    say("batch again with 'v2' -> succeeded=%s seq=%d failed_condition=%d "
        "(absent(%s) no longer holds)" %
        (r.succeeded, r.seq, r.failed_condition, text(config)))
    check(not r.succeeded and r.seq == 0 and r.failed_condition == 1,
          "the second batch failed on condition 1")

    g = c.kv.Get(kv_pb2.GetRequest(key=config), **c.opts)
    say("get %s -> %r (revision %d)" % (text(config), text(g.value),
                                        g.revision))
    check(g.value == b"v1" and g.revision == created_at,
          "the failed batch wrote nothing")


# -- transactions with retry on conflict --------------------------------------

class Txn:
    """One KV.Txn stream. Each request gets exactly one response, in order,
    so request() sends one and waits for its answer."""

    def __init__(self, c):
        self._requests = queue.Queue()
        # The stream sends what the queue yields until it yields None.
        self._call = c.kv.Txn(iter(self._requests.get, None), **c.opts)
        self._responses = iter(self._call)

    def request(self, **fields):
        self._requests.put(kv_pb2.TxnRequest(**fields))
        try:
            return next(self._responses)
        except StopIteration:
            raise CheckFailed("the Txn stream ended without a response")

    def finish(self):
        """Half-closes and waits for the end (raises if it was an error)."""
        self._requests.put(None)
        for extra in self._responses:
            raise CheckFailed("unexpected Txn response %s" % extra)

    def cancel(self):
        self._requests.put(None)
        self._call.cancel()


def increment(c, key, worker, writes, barrier=None):
    """Adds 1 to the decimal counter at key in a transaction, retrying with a
    jittered backoff when the commit is ABORTED. Returns (old value, number
    of aborted attempts). With a barrier, the first attempt waits after its
    read until every worker has read: all read the same value, so all
    commits but one must abort."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        txn = Txn(c)
        old = None
        try:
            txn.request(begin=kv_pb2.TxnBegin())
            got = txn.request(get=kv_pb2.TxnGet(key=key)).get
            old = int(got.value) if got.found else 0
            if barrier is not None:
                barrier.wait()
                barrier = None
            txn.request(put=types_pb2.PutOp(key=key, value=b"%d" % (old + 1)))
            seq = txn.request(commit=kv_pb2.TxnCommit()).committed.seq
            txn.finish()
        except grpc.RpcError as e:
            txn.cancel()
            if e.code() != grpc.StatusCode.ABORTED:
                raise
            delay = random.uniform(0.001, min(0.1, 0.002 * 2 ** attempt))
            say("txn worker %d: attempt %d (read %s) ABORTED: %s; retry in "
                "%.0f ms" % (worker, attempt, old, e.details(), delay * 1000))
            time.sleep(delay)
            continue
        except BaseException:
            txn.cancel()
            raise
        say("txn worker %d: %d -> %d committed at seq %d (attempt %d)" %
            (worker, old, old + 1, seq, attempt))
        writes.add(seq, "PUT", key, b"%d" % (old + 1))
        return old, attempt - 1
    raise CheckFailed("increment still aborted after %d attempts" %
                      MAX_ATTEMPTS)


def concurrent_increments(c, prefix, writes):
    key = prefix + b"counter"
    total = WORKERS * INCREMENTS
    say("txn: %d workers (threads) x %d increments of %s, retrying on ABORTED"
        % (WORKERS, INCREMENTS, text(key)))
    barrier = threading.Barrier(WORKERS, timeout=RPC_TIMEOUT)
    results, errors = [], []

    def worker(n):
        try:
            first = True
            for _ in range(INCREMENTS):
                results.append(increment(c, key, n, writes,
                                         barrier if first else None))
                first = False
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(n,))
               for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        check(not t.is_alive(), "a transaction worker finished in time")
    if errors:
        raise errors[0]

    aborts = sum(a for _, a in results)
    value = c.kv.Get(kv_pb2.GetRequest(key=key), **c.opts).value
    say("txn: %s = %s after %d increments (expected %d); %d conflicts "
        "(ABORTED) retried" % (text(key), text(value), len(results), total,
                               aborts))
    check(value == b"%d" % total, "the counter equals the number of increments")
    check(sorted(old for old, _ in results) == list(range(total)),
          "every committed increment read a distinct value (no lost update)")
    check(aborts >= 1, "the first increments read the same value, so one "
          "commit must have been aborted")


# -- the change stream --------------------------------------------------------

def tail_own_writes(c, first_seq, writes):
    """Tails from the first put's seq until the last write's seq: the stream
    has every committed sequence in order, without gaps (other clients'
    writes included), and the events at this program's sequences are its
    writes."""
    last_seq = max(writes.by_seq)
    say("tail from seq %d until seq %d (deadline %d s)" %
        (first_seq, last_seq, TAIL_TIMEOUT))
    call = c.replication.Tail(
        replication_pb2.TailRequest(from_seq=first_seq),
        timeout=TAIL_TIMEOUT, metadata=c.opts.get("metadata"))
    Op = replication_pb2.ChangeOp
    events, next_seq = {}, first_seq
    try:
        for resp in call:
            for ev in resp.events:
                if next_seq > last_seq:
                    break  # the rest of the chunk is newer than our writes
                check(ev.seq == next_seq, "tail: expected seq %d, got %d" %
                      (next_seq, ev.seq))
                events[ev.seq] = ev
                next_seq += 1
                say("  seq %d %s %s%s (group %d+%d)" % (
                    ev.seq, Op.Name(ev.op)[len("CHANGE_OP_"):], text(ev.key),
                    " = %r" % text(ev.value) if ev.op == replication_pb2.CHANGE_OP_PUT
                    else "", ev.group_first_seq, ev.group_size))
            if resp.HasField("progress"):
                say("  progress: committed_seq %d" %
                    resp.progress.committed_seq)
                check(resp.progress.committed_seq < last_seq or
                      next_seq > last_seq,
                      "tail: progress past seq %d before its event" % last_seq)
            if next_seq > last_seq:
                break
        else:
            raise CheckFailed("the Tail stream ended before seq %d" % last_seq)
    finally:
        call.cancel()

    for seq, (op, key, value, group) in sorted(writes.by_seq.items()):
        ev = events.get(seq)
        check(ev is not None, "tail: seq %d was delivered" % seq)
        check(Op.Name(ev.op) == "CHANGE_OP_" + op and ev.key == key and
              ev.value == value,
              "tail: seq %d is %s %s = %r" % (seq, op, text(key), value))
        check((ev.group_first_seq, ev.group_size) == group,
              "tail: seq %d belongs to the atomic group %d+%d" %
              (seq, group[0], group[1]))
    theirs = len(events) - len(writes.by_seq)
    say("tail: %d events, seq %d..%d in order with no gaps; all %d writes of "
        "this program seen (%d from other clients)" %
        (len(events), first_seq, last_seq, len(writes.by_seq), theirs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint",
                    default=os.environ.get("CAIRN_ENDPOINT", "127.0.0.1:7070"),
                    help="cairnd address (default: $CAIRN_ENDPOINT or "
                         "127.0.0.1:7070)")
    ap.add_argument("--token", default=os.environ.get("CAIRN_TOKEN", ""),
                    help="bearer token when auth is on, write role "
                         "(default: $CAIRN_TOKEN)")
    ap.add_argument("--proto-dir",
                    default=os.path.join(HERE, "..", "..", "..", "proto"),
                    help="the repository's proto/ directory")
    ap.add_argument("--stubs-dir",
                    help="generate the stubs here and keep them (default: a "
                         "temporary directory)")
    args = ap.parse_args()

    stubs_dir = args.stubs_dir or tempfile.mkdtemp(prefix="cairn-stubs-")
    try:
        os.makedirs(stubs_dir, exist_ok=True)
        load_stubs(os.path.normpath(args.proto_dir), stubs_dir)
        c = Client(args.endpoint, args.token)
        # A fresh prefix per run: the example can run again on the same
        # database, or next to another copy of itself.
        prefix = b"example/py/%s/" % uuid.uuid4().hex[:12].encode()
        say("cairnd at %s, auth %s, keys under %s" %
            (args.endpoint, "with a token" if args.token else "off",
             text(prefix)))
        writes = Writes()
        first_seq = put_and_get(c, prefix, writes)
        scan_prefix(c, prefix, writes)
        conditional_batch(c, prefix, writes)
        concurrent_increments(c, prefix, writes)
        tail_own_writes(c, first_seq, writes)
        c.channel.close()
    except CheckFailed as e:
        say("FAILED: check did not hold: %s" % e)
        return 1
    except grpc.RpcError as e:
        say("FAILED: RPC error %s: %s" % (e.code().name, e.details()))
        return 1
    finally:
        if not args.stubs_dir:
            shutil.rmtree(stubs_dir, ignore_errors=True)
    say("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
