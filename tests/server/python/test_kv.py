#!/usr/bin/python3
"""Integration test of cairnd's KV, Admin and Health services, from Python.

Run:
  /usr/bin/python3 tests/server/python/test_kv.py --cairnd PATH_TO_CAIRND \
      --proto_dir /work/main/proto [unittest args, e.g. -v or -k scan]

It generates the Python stubs from the .proto files into a temporary
directory with grpc_tools.protoc, starts one cairnd on free loopback ports with
--scan_chunk_keys=10 and a temporary data dir, runs every KV and Admin RPC
against it with assertions on the contract in proto/cairn/v1/*.proto, and
finally stops cairnd with SIGTERM and checks that it exits 0 within 30 s.
Every wait is bounded. Exits non-zero if anything failed.

Needs the Debian packages python3-grpcio and python3-grpc-tools.
"""

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cairnd_harness  # noqa: E402

try:
    import grpc  # noqa: E402
except ImportError:  # pragma: no cover
    sys.stderr.write("python3-grpcio is missing: apt-get install -y "
                     "python3-grpcio python3-grpc-tools\n")
    sys.exit(2)

ARGS = None  # parsed command line (set in main)
SCAN_CHUNK_KEYS = 10
RPC_TIMEOUT = 30  # seconds, every unary call and every stream
SHUTDOWN_TIMEOUT = 30

# Generated modules, set by load_stubs().
types_pb2 = kv_pb2 = kv_pb2_grpc = admin_pb2 = admin_pb2_grpc = None
replication_pb2 = replication_pb2_grpc = health_pb2 = health_pb2_grpc = None


def load_stubs(proto_dir, out_dir):
    global types_pb2, kv_pb2, kv_pb2_grpc, admin_pb2, admin_pb2_grpc
    global replication_pb2, replication_pb2_grpc, health_pb2, health_pb2_grpc
    cairnd_harness.generate_stubs(proto_dir, out_dir)
    from cairn.v1 import types_pb2 as t, kv_pb2 as k, kv_pb2_grpc as kg
    from cairn.v1 import admin_pb2 as a, admin_pb2_grpc as ag
    from cairn.v1 import replication_pb2 as r, replication_pb2_grpc as rg
    types_pb2, kv_pb2, kv_pb2_grpc = t, k, kg
    admin_pb2, admin_pb2_grpc = a, ag
    replication_pb2, replication_pb2_grpc = r, rg
    health_pb2, health_pb2_grpc = cairnd_harness.load_health_modules(out_dir)


def now_micros():
    return int(time.time() * 1_000_000)


class TxnStream:
    """One KV.Txn call driven request by request (one response per request)."""

    _END = object()

    def __init__(self, stub, timeout=RPC_TIMEOUT):
        self._q = queue.Queue()
        self._closed = False
        self.call = stub.Txn(self._requests(), timeout=timeout)
        self._responses = iter(self.call)

    def _requests(self):
        while True:
            req = self._q.get()
            if req is self._END:
                return
            yield req

    def send(self, req):
        """Sends req and returns its response (raises grpc.RpcError)."""
        self._q.put(req)
        return next(self._responses)

    def close_send(self):
        if not self._closed:
            self._closed = True
            self._q.put(self._END)

    def finish(self):
        """Half-closes and reads to the end; returns the remaining responses.

        Raises grpc.RpcError if the stream ends with an error status.
        """
        self.close_send()
        return list(self._responses)

    def cancel(self):
        self.close_send()
        self.call.cancel()

    # Shorthands.
    def begin(self, snapshot_seq=0):
        return self.send(kv_pb2.TxnRequest(
            begin=kv_pb2.TxnBegin(snapshot_seq=snapshot_seq)))

    def get(self, key):
        return self.send(kv_pb2.TxnRequest(get=kv_pb2.TxnGet(key=key)))

    def put(self, key, value):
        return self.send(kv_pb2.TxnRequest(
            put=types_pb2.PutOp(key=key, value=value)))

    def delete(self, key):
        return self.send(kv_pb2.TxnRequest(delete=types_pb2.DeleteOp(key=key)))

    def merge(self, key, op, operand, argument=b""):
        return self.send(kv_pb2.TxnRequest(merge=types_pb2.MergeOp(
            key=key, operator=op, operand=operand, argument=argument)))

    def scan(self, **kw):
        return self.send(kv_pb2.TxnRequest(scan=kv_pb2.TxnScan(**kw)))

    def commit(self, durability=0):
        return self.send(kv_pb2.TxnRequest(
            commit=kv_pb2.TxnCommit(durability=durability)))

    def rollback(self):
        return self.send(kv_pb2.TxnRequest(rollback=kv_pb2.TxnRollback()))


class CairndTest(unittest.TestCase):
    """All tests share one cairnd (started with --scan_chunk_keys=10).

    Each test uses its own key prefix, so the tests do not depend on each
    other or on their order.
    """

    server = None
    tmp = None

    channel = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cairn-pytest-")
        try:
            cls._start()
        except BaseException:
            # tearDownClass does not run when setUpClass fails.
            if cls.server is not None:
                cls.server.kill()
            if not ARGS.keep_tmp:
                shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def _start(cls):
        load_stubs(ARGS.proto_dir, os.path.join(cls.tmp, "gen"))
        cls.server = cairnd_harness.Cairnd(
            ARGS.cairnd, os.path.join(cls.tmp, "data"),
            os.path.join(cls.tmp, "cairnd.log"),
            extra_args=["--scan_chunk_keys=%d" % SCAN_CHUNK_KEYS],
            stub_dir=os.path.join(cls.tmp, "gen"))
        cls.server.start(timeout=60)
        cls.channel = grpc.insecure_channel(
            cls.server.address, options=cairnd_harness.CHANNEL_OPTIONS)
        cls.kv = kv_pb2_grpc.KVStub(cls.channel)
        cls.admin = admin_pb2_grpc.AdminStub(cls.channel)
        cls.repl = replication_pb2_grpc.ReplicationStub(cls.channel)
        cls.health = health_pb2_grpc.HealthStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        # The shutdown check: SIGTERM, then exit status 0 within 30 s.
        try:
            if cls.channel is not None:
                cls.channel.close()
            if cls.server is not None:
                was_running = cls.server.running()
                try:
                    code = cls.server.stop(signal.SIGTERM,
                                           timeout=SHUTDOWN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise AssertionError(
                        "cairnd did not exit within %d s of SIGTERM; log:\n%s"
                        % (SHUTDOWN_TIMEOUT, cls.server.log_tail()))
                if not was_running:
                    raise AssertionError(
                        "cairnd had died during the tests (exit %s); log:\n%s"
                        % (code, cls.server.log_tail()))
                if code != 0:
                    raise AssertionError(
                        "cairnd exited with %s after SIGTERM (want 0); log:\n%s"
                        % (code, cls.server.log_tail()))
        finally:
            if cls.tmp and not ARGS.keep_tmp:
                shutil.rmtree(cls.tmp, ignore_errors=True)
            elif cls.tmp:
                sys.stderr.write("kept %s\n" % cls.tmp)

    # ------------------------------------------------------------ helpers

    def assertCode(self, code, fn, *args, **kw):
        """Calls fn (a unary call or a stream, fully read); expects `code`."""
        kw.setdefault("timeout", RPC_TIMEOUT)
        with self.assertRaises(grpc.RpcError) as cm:
            res = fn(*args, **kw)
            if not hasattr(res, "ListFields"):  # a stream: read it to the end
                list(res)
        self.assertEqual(cm.exception.code(), code,
                         "details: %r" % cm.exception.details())
        return cm.exception

    def put(self, key, value, **kw):
        return self.kv.Put(kv_pb2.PutRequest(key=key, value=value, **kw),
                           timeout=RPC_TIMEOUT).seq

    def get(self, key, snapshot_seq=0):
        return self.kv.Get(kv_pb2.GetRequest(key=key, snapshot_seq=snapshot_seq),
                           timeout=RPC_TIMEOUT)

    def merge(self, key, op, operand, argument=b""):
        return self.kv.Merge(kv_pb2.MergeRequest(
            key=key, operator=op, operand=operand, argument=argument),
            timeout=RPC_TIMEOUT).seq

    def scan(self, **kw):
        """Returns (chunks, flat list of KeyValue)."""
        chunks = list(self.kv.Scan(kv_pb2.ScanRequest(**kw),
                                   timeout=RPC_TIMEOUT))
        return chunks, [item for c in chunks for item in c.kvs]

    def last_seq(self):
        return self.admin.Stats(admin_pb2.StatsRequest(),
                                timeout=RPC_TIMEOUT).last_seq

    def txn(self):
        return TxnStream(self.kv)

    # ------------------------------------------------------------ health

    def test_health(self):
        resp = self.health.Check(health_pb2.HealthCheckRequest(service=""),
                                 timeout=RPC_TIMEOUT)
        self.assertEqual(resp.status, health_pb2.HealthCheckResponse.SERVING)

    def test_health_service_name(self):
        # health.proto: "" = the server as a whole; or a service name such
        # as "cairn.v1.KV".
        for service in ("cairn.v1.KV", "cairn.v1.Admin"):
            resp = self.health.Check(
                health_pb2.HealthCheckRequest(service=service),
                timeout=RPC_TIMEOUT)
            self.assertEqual(resp.status,
                             health_pb2.HealthCheckResponse.SERVING, service)

    # ------------------------------------------------------------ put/get

    def test_put_get(self):
        s1 = self.put(b"pg/a", b"one")
        self.assertGreater(s1, 0)
        r = self.get(b"pg/a")
        self.assertTrue(r.found)
        self.assertEqual(r.value, b"one")
        self.assertEqual(r.revision, s1)
        self.assertEqual(r.expires_at_unix_micros, 0)
        self.assertGreaterEqual(r.read_seq, s1)

        # Overwrite: a new, larger revision; both durabilities.
        s2 = self.put(b"pg/a", b"two", durability=types_pb2.DURABILITY_SYNC)
        self.assertGreater(s2, s1)
        s3 = self.put(b"pg/b", b"", durability=types_pb2.DURABILITY_ASYNC)
        self.assertGreater(s3, s2)
        r = self.get(b"pg/a")
        self.assertEqual((r.found, r.value, r.revision), (True, b"two", s2))
        r = self.get(b"pg/b")  # an empty value is a value
        self.assertEqual((r.found, r.value, r.revision), (True, b"", s3))
        self.assertGreaterEqual(r.read_seq, s3)

        # Binary keys and values round-trip.
        key, val = b"pg/\x00\xff\x01", bytes(range(256)) * 10
        s4 = self.put(key, val)
        r = self.get(key)
        self.assertEqual((r.value, r.revision), (val, s4))

        # A 1 MiB value.
        big = os.urandom(1 << 20)
        s5 = self.put(b"pg/big", big)
        r = self.get(b"pg/big")
        self.assertEqual((r.value, r.revision), (big, s5))

        # Absent key.
        r = self.get(b"pg/absent")
        self.assertFalse(r.found)
        self.assertEqual(r.value, b"")
        self.assertEqual(r.revision, 0)
        self.assertGreaterEqual(r.read_seq, s5)

    def test_ttl(self):
        # Relative TTL: expires_at is about now + ttl.
        before = now_micros()
        s = self.put(b"ttl/long", b"v", ttl_millis=600_000)
        after = now_micros()
        r = self.get(b"ttl/long")
        self.assertTrue(r.found)
        self.assertEqual(r.revision, s)
        self.assertGreaterEqual(r.expires_at_unix_micros,
                                before + 600_000_000 - 5_000_000)
        self.assertLessEqual(r.expires_at_unix_micros,
                             after + 600_000_000 + 5_000_000)

        # Absolute expiry is stored as given.
        at = now_micros() + 3_600_000_000
        self.put(b"ttl/abs", b"v", expires_at_unix_micros=at)
        self.assertEqual(self.get(b"ttl/abs").expires_at_unix_micros, at)

        # Both forms at once: refused.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Put,
                        kv_pb2.PutRequest(key=b"ttl/both", value=b"v",
                                          ttl_millis=1000,
                                          expires_at_unix_micros=at))
        self.assertFalse(self.get(b"ttl/both").found)

        # A short TTL: visible, then gone (Get and Scan) once it passes.
        self.put(b"ttl/short", b"old")  # an older version must not reappear
        s = self.put(b"ttl/short", b"v", ttl_millis=1500)
        r = self.get(b"ttl/short")
        self.assertTrue(r.found, "read right after a 1.5 s TTL put")
        self.assertEqual(r.revision, s)
        self.assertGreater(r.expires_at_unix_micros, 0)
        deadline = time.monotonic() + 20
        while self.get(b"ttl/short").found:
            self.assertLess(time.monotonic(), deadline,
                            "ttl/short still visible 20 s after a 1.5 s TTL")
            time.sleep(0.2)
        self.assertGreaterEqual(now_micros(), r.expires_at_unix_micros)
        _, kvs = self.scan(prefix=b"ttl/")
        self.assertEqual([kv.key for kv in kvs], [b"ttl/abs", b"ttl/long"])

    # ------------------------------------------------------------ deletes

    def test_delete(self):
        s1 = self.put(b"del/a", b"v")
        s2 = self.kv.Delete(kv_pb2.DeleteRequest(key=b"del/a"),
                            timeout=RPC_TIMEOUT).seq
        self.assertGreater(s2, s1)
        r = self.get(b"del/a")
        self.assertFalse(r.found)
        self.assertEqual(r.revision, 0)
        self.assertGreaterEqual(r.read_seq, s2)
        # Deleting an absent key succeeds and still gets a sequence.
        s3 = self.kv.Delete(kv_pb2.DeleteRequest(
            key=b"del/never", durability=types_pb2.DURABILITY_ASYNC),
            timeout=RPC_TIMEOUT).seq
        self.assertGreater(s3, s2)

    def test_delete_range(self):
        for k in (b"dr/a", b"dr/b", b"dr/b1", b"dr/c", b"dr/d", b"drz"):
            self.put(k, b"v")
        s = self.kv.DeleteRange(kv_pb2.DeleteRangeRequest(
            start=b"dr/b", end=b"dr/d"), timeout=RPC_TIMEOUT).seq
        self.assertGreater(s, 0)
        _, kvs = self.scan(prefix=b"dr")
        self.assertEqual([kv.key for kv in kvs], [b"dr/a", b"dr/d", b"drz"])
        self.assertFalse(self.get(b"dr/b1").found)
        # A key written after the range delete is visible again.
        self.put(b"dr/c", b"again")
        self.assertEqual(self.get(b"dr/c").value, b"again")
        # Bad ranges.
        for start, end in ((b"", b"dr/z"), (b"dr/z", b"dr/a"),
                           (b"dr/m", b"dr/m")):
            e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT,
                                self.kv.DeleteRange,
                                kv_pb2.DeleteRangeRequest(start=start, end=end))
            self.assertTrue(e.details(), "no message for a bad range")
        self.assertEqual(self.get(b"dr/a").value, b"v")

    # ------------------------------------------------------------ merge

    def test_merge_add(self):
        s1 = self.merge(b"mg/ctr", "add", b"5")
        self.assertGreater(s1, 0)
        r = self.get(b"mg/ctr")
        self.assertEqual((r.found, r.value, r.revision), (True, b"5", s1))
        self.merge(b"mg/ctr", "add", b"-3")
        s3 = self.merge(b"mg/ctr", "add", b"10")
        r = self.get(b"mg/ctr")
        self.assertEqual(r.value, b"12")
        self.assertEqual(r.revision, s3)  # the newest operand
        # Over a put.
        self.put(b"mg/base", b"100")
        self.merge(b"mg/base", "add", b"-101")
        self.assertEqual(self.get(b"mg/base").value, b"-1")
        # Wraps on overflow.
        self.put(b"mg/wrap", b"9223372036854775807")
        self.merge(b"mg/wrap", "add", b"1")
        self.assertEqual(self.get(b"mg/wrap").value, b"-9223372036854775808")

    def test_merge_append(self):
        self.merge(b"mg/log", "append", b"a", b",")
        self.assertEqual(self.get(b"mg/log").value, b"a")  # no delimiter first
        self.merge(b"mg/log", "append", b"b", b",")
        self.merge(b"mg/log", "append", b"c", b", ")
        self.assertEqual(self.get(b"mg/log").value, b"a,b, c")
        self.put(b"mg/str", b"x")
        self.merge(b"mg/str", "append", b"yz")  # empty delimiter
        self.assertEqual(self.get(b"mg/str").value, b"xyz")

    def test_merge_max_min(self):
        for op, seq, want in (("max", (b"5", b"3", b"9", b"-20"), b"9"),
                              ("min", (b"5", b"3", b"9", b"-20"), b"-20")):
            key = b"mg/" + op.encode()
            self.merge(key, op, seq[0])
            self.assertEqual(self.get(key).value, seq[0])  # absent: the operand
            for operand in seq[1:]:
                self.merge(key, op, operand)
            self.assertEqual(self.get(key).value, want, op)
        self.put(b"mg/max2", b"42")
        self.merge(b"mg/max2", "max", b"7")
        self.assertEqual(self.get(b"mg/max2").value, b"42")

    def test_merge_errors(self):
        for op, operand, argument in (("add", b"x", b""),
                                      ("add", b"1.5", b""),
                                      ("add", b"5", b","),  # argument
                                      ("max", b"abc", b""),
                                      ("nosuchop", b"1", b""),
                                      ("", b"1", b"")):
            e = self.assertCode(
                grpc.StatusCode.INVALID_ARGUMENT, self.kv.Merge,
                kv_pb2.MergeRequest(key=b"mg/bad", operator=op,
                                    operand=operand, argument=argument))
            self.assertTrue(e.details())
        self.assertFalse(self.get(b"mg/bad").found)
        # An operand that cannot apply to the stored value: accepted, then
        # reads fail with FAILED_PRECONDITION until a Put repairs the key.
        self.put(b"mg/text", b"hello")
        self.merge(b"mg/text", "add", b"1")
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.kv.Get,
                        kv_pb2.GetRequest(key=b"mg/text"))
        self.put(b"mg/text", b"41")
        self.merge(b"mg/text", "add", b"1")
        self.assertEqual(self.get(b"mg/text").value, b"42")

    # ------------------------------------------------------------ multiget

    def test_multi_get(self):
        sa = self.put(b"mget/a", b"A")
        sb = self.put(b"mget/b", b"B")
        resp = self.kv.MultiGet(kv_pb2.MultiGetRequest(
            keys=[b"mget/b", b"mget/missing", b"mget/a", b"mget/b"]),
            timeout=RPC_TIMEOUT)
        self.assertEqual(len(resp.results), 4)
        self.assertGreaterEqual(resp.read_seq, sb)
        got = [(r.found, r.value, r.revision) for r in resp.results]
        self.assertEqual(got, [(True, b"B", sb), (False, b"", 0),
                               (True, b"A", sa), (True, b"B", sb)])
        for r in resp.results:  # per-result read_seq, when filled, agrees
            self.assertIn(r.read_seq, (0, resp.read_seq))
        # No keys: an empty answer.
        resp = self.kv.MultiGet(kv_pb2.MultiGetRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(len(resp.results), 0)
        # An empty key among them is refused.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.MultiGet,
                        kv_pb2.MultiGetRequest(keys=[b"mget/a", b""]))

    # ------------------------------------------------------------ scan

    N_SCAN = 35

    def _fill_scan_keys(self):
        keys = [b"scan/%03d" % i for i in range(self.N_SCAN)]
        resp = self.kv.Batch(kv_pb2.BatchRequest(ops=[
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=k, value=b"val-" + k))
            for k in keys]), timeout=RPC_TIMEOUT)
        self.assertTrue(resp.succeeded)
        self.put(b"scam", b"outside")  # neighbours outside the prefix
        self.put(b"scao", b"outside")
        return keys, resp.seq

    def test_scan(self):
        keys, seq = self._fill_scan_keys()

        # Prefix, chunked: more keys than --scan_chunk_keys.
        chunks, kvs = self.scan(prefix=b"scan/")
        self.assertEqual([kv.key for kv in kvs], keys)
        self.assertTrue(all(kv.value == b"val-" + kv.key for kv in kvs))
        self.assertTrue(all(kv.revision > 0 for kv in kvs))
        self.assertGreaterEqual(len(chunks), 4, "expected several chunks")
        for c in chunks:
            self.assertLessEqual(len(c.kvs), SCAN_CHUNK_KEYS)
        read_seqs = {c.read_seq for c in chunks}
        self.assertEqual(len(read_seqs), 1, "chunks differ in read_seq")
        self.assertGreaterEqual(read_seqs.pop(), seq)
        # A batch's puts get consecutive sequences ending at its seq.
        self.assertEqual([kv.revision for kv in kvs],
                         list(range(seq - self.N_SCAN + 1, seq + 1)))

        # Range [start, end).
        _, kvs = self.scan(start=b"scan/005", end=b"scan/015")
        self.assertEqual([kv.key for kv in kvs], keys[5:15])
        # Open ends.
        _, kvs = self.scan(start=b"scan/030", end=b"scao")
        self.assertEqual([kv.key for kv in kvs], keys[30:])
        _, kvs = self.scan(end=b"scan/", limit=0)
        self.assertIn(b"scam", [kv.key for kv in kvs])
        self.assertNotIn(keys[0], [kv.key for kv in kvs])
        _, kvs = self.scan(start=b"scan/033")
        self.assertEqual([kv.key for kv in kvs][:3],
                         [b"scan/033", b"scan/034", b"scao"])

        # Reverse.
        chunks, kvs = self.scan(prefix=b"scan/", reverse=True)
        self.assertEqual([kv.key for kv in kvs], keys[::-1])
        self.assertGreaterEqual(len(chunks), 4)
        _, kvs = self.scan(start=b"scan/005", end=b"scan/015", reverse=True)
        self.assertEqual([kv.key for kv in kvs], keys[5:15][::-1])

        # Limit (below, across and beyond chunk boundaries).
        for limit in (1, 3, 10, 25, 100):
            _, kvs = self.scan(prefix=b"scan/", limit=limit)
            self.assertEqual([kv.key for kv in kvs], keys[:limit], limit)
        _, kvs = self.scan(prefix=b"scan/", limit=12, reverse=True)
        self.assertEqual([kv.key for kv in kvs], keys[::-1][:12])

        # Keys only: values empty, revisions kept.
        _, kvs = self.scan(prefix=b"scan/", keys_only=True)
        self.assertEqual([kv.key for kv in kvs], keys)
        self.assertTrue(all(kv.value == b"" for kv in kvs))
        self.assertTrue(all(kv.revision > 0 for kv in kvs))

        # Empty range.
        chunks, kvs = self.scan(prefix=b"scan/nothing-here/")
        self.assertEqual(kvs, [])
        self.assertLessEqual(len(chunks), 1)

        # prefix with start/end: refused.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Scan,
                        kv_pb2.ScanRequest(prefix=b"scan/", start=b"scan/1"))

    def test_scan_is_one_snapshot(self):
        keys = [b"snapscan/%03d" % i for i in range(30)]
        self.kv.Batch(kv_pb2.BatchRequest(ops=[
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=k, value=b"v"))
            for k in keys]), timeout=RPC_TIMEOUT)
        stream = self.kv.Scan(kv_pb2.ScanRequest(prefix=b"snapscan/"),
                              timeout=RPC_TIMEOUT)
        first = next(stream)
        # Writes after the scan started are invisible to it.
        self.put(b"snapscan/0295", b"new")
        self.kv.Delete(kv_pb2.DeleteRequest(key=b"snapscan/029"),
                       timeout=RPC_TIMEOUT)
        rest = list(stream)
        chunks = [first] + rest
        self.assertGreater(len(chunks), 1)
        self.assertEqual(len({c.read_seq for c in chunks}), 1)
        self.assertEqual([kv.key for c in chunks for kv in c.kvs], keys)
        # A new scan sees them.
        _, kvs = self.scan(prefix=b"snapscan/", keys_only=True)
        self.assertEqual([kv.key for kv in kvs][-2:],
                         [b"snapscan/028", b"snapscan/0295"])

    # ------------------------------------------------------------ batch

    def test_batch(self):
        self.put(b"bat/c", b"doomed")
        self.put(b"bat/r1", b"x")
        self.put(b"bat/r2", b"x")
        ops = [
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"bat/a", value=b"A")),
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"bat/b", value=b"B",
                                               ttl_millis=600_000)),
            kv_pb2.BatchOp(delete=types_pb2.DeleteOp(key=b"bat/c")),
            kv_pb2.BatchOp(merge=types_pb2.MergeOp(key=b"bat/n",
                                                   operator="add",
                                                   operand=b"7")),
            kv_pb2.BatchOp(delete_range=types_pb2.DeleteRangeOp(
                start=b"bat/r", end=b"bat/s")),
        ]
        resp = self.kv.Batch(kv_pb2.BatchRequest(
            ops=ops, durability=types_pb2.DURABILITY_SYNC),
            timeout=RPC_TIMEOUT)
        self.assertTrue(resp.succeeded)
        self.assertEqual(resp.failed_condition, -1)
        first = resp.seq - len(ops) + 1
        self.assertGreater(first, 0)
        self.assertEqual(self.get(b"bat/a").revision, first)
        rb = self.get(b"bat/b")
        self.assertEqual((rb.value, rb.revision), (b"B", first + 1))
        self.assertGreater(rb.expires_at_unix_micros, 0)
        self.assertFalse(self.get(b"bat/c").found)
        rn = self.get(b"bat/n")
        self.assertEqual((rn.value, rn.revision), (b"7", first + 3))
        self.assertFalse(self.get(b"bat/r1").found)
        self.assertFalse(self.get(b"bat/r2").found)

        # Conditions that all hold.
        ra = self.get(b"bat/a")
        conds = [
            kv_pb2.Condition(kind=kv_pb2.Condition.EXISTS, key=b"bat/a"),
            kv_pb2.Condition(kind=kv_pb2.Condition.ABSENT, key=b"bat/c"),
            kv_pb2.Condition(kind=kv_pb2.Condition.REVISION_EQUALS,
                             key=b"bat/a", revision=ra.revision),
            kv_pb2.Condition(kind=kv_pb2.Condition.REVISION_EQUALS,
                             key=b"bat/none", revision=0),
            kv_pb2.Condition(kind=kv_pb2.Condition.VALUE_EQUALS,
                             key=b"bat/n", value=b"7"),  # merges folded
        ]
        resp = self.kv.Batch(kv_pb2.BatchRequest(conditions=conds, ops=[
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"bat/a", value=b"A2"))]),
            timeout=RPC_TIMEOUT)
        self.assertTrue(resp.succeeded)
        self.assertEqual(resp.failed_condition, -1)
        ra2 = self.get(b"bat/a")
        self.assertEqual((ra2.value, ra2.revision), (b"A2", resp.seq))

        # A failing condition: not an error; the index of the first failure;
        # nothing written (not even the ops before the failed condition's
        # position, and no sequence consumed).
        before = self.get(b"bat/a").read_seq
        conds = [
            kv_pb2.Condition(kind=kv_pb2.Condition.EXISTS, key=b"bat/a"),
            kv_pb2.Condition(kind=kv_pb2.Condition.REVISION_EQUALS,
                             key=b"bat/a", revision=ra.revision),  # stale
            kv_pb2.Condition(kind=kv_pb2.Condition.ABSENT, key=b"bat/a"),
        ]
        resp = self.kv.Batch(kv_pb2.BatchRequest(conditions=conds, ops=[
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"bat/new", value=b"x")),
            kv_pb2.BatchOp(delete=types_pb2.DeleteOp(key=b"bat/a"))]),
            timeout=RPC_TIMEOUT)
        self.assertFalse(resp.succeeded)
        self.assertEqual(resp.failed_condition, 1)
        self.assertEqual(resp.seq, 0)
        self.assertFalse(self.get(b"bat/new").found)
        self.assertEqual(self.get(b"bat/a").value, b"A2")
        self.assertEqual(self.get(b"bat/a").read_seq, before)

        for kind, key, extra, want_index in (
                (kv_pb2.Condition.EXISTS, b"bat/c", {}, 0),
                (kv_pb2.Condition.ABSENT, b"bat/a", {}, 0),
                (kv_pb2.Condition.VALUE_EQUALS, b"bat/a", {"value": b"A"}, 0),
                (kv_pb2.Condition.VALUE_EQUALS, b"bat/none", {"value": b""}, 0),
                (kv_pb2.Condition.REVISION_EQUALS, b"bat/a",
                 {"revision": 0}, 0)):
            resp = self.kv.Batch(kv_pb2.BatchRequest(
                conditions=[kv_pb2.Condition(kind=kind, key=key, **extra)],
                ops=[kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"bat/new",
                                                        value=b"x"))]),
                timeout=RPC_TIMEOUT)
            self.assertFalse(resp.succeeded, (kind, key, extra))
            self.assertEqual(resp.failed_condition, want_index)
        self.assertFalse(self.get(b"bat/new").found)

    def test_batch_errors(self):
        # Condition kind unspecified.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Batch,
                        kv_pb2.BatchRequest(
                            conditions=[kv_pb2.Condition(key=b"batx/a")],
                            ops=[kv_pb2.BatchOp(put=types_pb2.PutOp(
                                key=b"batx/a", value=b"v"))]))
        # An op with nothing set.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Batch,
                        kv_pb2.BatchRequest(ops=[
                            kv_pb2.BatchOp(put=types_pb2.PutOp(
                                key=b"batx/a", value=b"v")),
                            kv_pb2.BatchOp()]))
        # A bad op later in the batch: refused as a whole, field named.
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Batch,
                            kv_pb2.BatchRequest(ops=[
                                kv_pb2.BatchOp(put=types_pb2.PutOp(
                                    key=b"batx/a", value=b"v")),
                                kv_pb2.BatchOp(put=types_pb2.PutOp(
                                    key=b"", value=b"v"))]))
        self.assertIn("ops[1]", e.details())
        self.assertFalse(self.get(b"batx/a").found)

    # ------------------------------------------------------------ txn

    def test_txn_commit(self):
        self.put(b"txn/a", b"1")
        t = self.txn()
        begun = t.begin()
        self.assertEqual(begun.WhichOneof("response"), "begun")
        self.assertGreaterEqual(begun.begun.snapshot_seq,
                                self.get(b"txn/a").revision)
        r = t.get(b"txn/a")
        self.assertEqual(r.WhichOneof("response"), "get")
        self.assertEqual((r.get.found, r.get.value), (True, b"1"))
        self.assertEqual(t.put(b"txn/b", b"2").WhichOneof("response"),
                         "buffered")
        self.assertEqual(t.merge(b"txn/a", "add", b"10").WhichOneof(
            "response"), "buffered")
        self.assertEqual(t.put(b"txn/c", b"3").WhichOneof("response"),
                         "buffered")
        self.assertEqual(t.delete(b"txn/c").WhichOneof("response"),
                         "buffered")
        # Nothing is visible outside before commit.
        self.assertFalse(self.get(b"txn/b").found)
        # Reads see the transaction's own writes.
        r = t.get(b"txn/b")
        self.assertEqual((r.get.found, r.get.value), (True, b"2"))
        self.assertEqual(t.get(b"txn/a").get.value, b"11")
        self.assertFalse(t.get(b"txn/c").get.found)
        s = t.scan(prefix=b"txn/")
        self.assertEqual(s.WhichOneof("response"), "scan")
        self.assertEqual([(kv.key, kv.value) for kv in s.scan.kvs],
                         [(b"txn/a", b"11"), (b"txn/b", b"2")])
        self.assertFalse(s.scan.more)
        c = t.commit(durability=types_pb2.DURABILITY_SYNC)
        self.assertEqual(c.WhichOneof("response"), "committed")
        self.assertGreater(c.committed.seq, begun.begun.snapshot_seq)
        self.assertEqual(t.finish(), [])  # then the stream ends with OK
        self.assertEqual(t.call.code(), grpc.StatusCode.OK)
        rb = self.get(b"txn/b")
        self.assertEqual(rb.value, b"2")
        self.assertLessEqual(rb.revision, c.committed.seq)
        self.assertEqual(self.get(b"txn/a").value, b"11")
        self.assertFalse(self.get(b"txn/c").found)
        for k in (b"txn/a", b"txn/b"):
            rev = self.get(k).revision
            self.assertGreater(rev, begun.begun.snapshot_seq)
            self.assertLessEqual(rev, c.committed.seq)

    def test_txn_scan_paging(self):
        keys = [b"txp/%03d" % i for i in range(25)]
        self.kv.Batch(kv_pb2.BatchRequest(ops=[
            kv_pb2.BatchOp(put=types_pb2.PutOp(key=k, value=b"v"))
            for k in keys]), timeout=RPC_TIMEOUT)
        t = self.txn()
        t.begin()
        s = t.scan(prefix=b"txp/", limit=100)  # capped by --scan_chunk_keys
        self.assertEqual(len(s.scan.kvs), SCAN_CHUNK_KEYS)
        self.assertTrue(s.scan.more)
        got = [kv.key for kv in s.scan.kvs]
        while s.scan.more:
            s = t.scan(start=got[-1] + b"\x00", end=b"txp0", limit=7,
                       keys_only=True)
            self.assertLessEqual(len(s.scan.kvs), 7)
            self.assertTrue(all(kv.value == b"" for kv in s.scan.kvs))
            got += [kv.key for kv in s.scan.kvs]
        self.assertEqual(got, keys)
        s = t.scan(prefix=b"txp/", reverse=True, limit=3)
        self.assertEqual([kv.key for kv in s.scan.kvs], keys[::-1][:3])
        self.assertTrue(s.scan.more)
        self.assertEqual(t.rollback().WhichOneof("response"), "rolled_back")
        t.finish()

    def test_txn_conflict_aborted(self):
        self.put(b"txc/k", b"0")
        # Read, someone else writes, commit -> ABORTED, nothing written.
        t = self.txn()
        t.begin()
        self.assertEqual(t.get(b"txc/k").get.value, b"0")
        self.put(b"txc/k", b"outside")
        t.put(b"txc/k", b"inside")
        t.put(b"txc/other", b"inside")
        with self.assertRaises(grpc.RpcError) as cm:
            t.commit()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ABORTED,
                         cm.exception.details())
        t.close_send()
        self.assertEqual(self.get(b"txc/k").value, b"outside")
        self.assertFalse(self.get(b"txc/other").found)

        # Two transactions on the same key: the first commit wins.
        t1, t2 = self.txn(), self.txn()
        t1.begin()
        t2.begin()
        v1 = int(t1.get(b"txc/ctr").get.value or b"0")
        v2 = int(t2.get(b"txc/ctr").get.value or b"0")
        t1.put(b"txc/ctr", str(v1 + 1).encode())
        t2.put(b"txc/ctr", str(v2 + 1).encode())
        self.assertEqual(t1.commit().WhichOneof("response"), "committed")
        t1.finish()
        with self.assertRaises(grpc.RpcError) as cm:
            t2.commit()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ABORTED)
        t2.close_send()
        self.assertEqual(self.get(b"txc/ctr").value, b"1")

        # Phantom: a key inserted into a scanned range aborts the commit.
        self.put(b"txc/r/a", b"1")
        t = self.txn()
        t.begin()
        self.assertEqual(len(t.scan(prefix=b"txc/r/").scan.kvs), 1)
        self.put(b"txc/r/b", b"phantom")
        t.put(b"txc/summary", b"1 key")
        with self.assertRaises(grpc.RpcError) as cm:
            t.commit()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ABORTED)
        t.close_send()
        self.assertFalse(self.get(b"txc/summary").found)

    def test_txn_rollback(self):
        # Explicit rollback.
        t = self.txn()
        t.begin()
        t.put(b"txr/a", b"v")
        self.assertEqual(t.rollback().WhichOneof("response"), "rolled_back")
        try:
            t.finish()
        except grpc.RpcError:
            pass  # how the stream ends after a rollback is not specified
        self.assertFalse(self.get(b"txr/a").found)

        # Half-close without commit: rolled back.
        t = self.txn()
        t.begin()
        t.put(b"txr/b", b"v")
        try:
            t.finish()
        except grpc.RpcError:
            pass
        self.assertFalse(self.get(b"txr/b").found)

        # Cancel without commit: rolled back.
        t = self.txn()
        t.begin()
        t.put(b"txr/c", b"v")
        t.cancel()
        time.sleep(0.2)
        self.assertFalse(self.get(b"txr/c").found)

        # A write after a transaction rolled back by closing is not blocked.
        self.put(b"txr/c", b"later")
        self.assertEqual(self.get(b"txr/c").value, b"later")

    def test_txn_errors(self):
        # The first request must be begin.
        t = self.txn()
        with self.assertRaises(grpc.RpcError) as cm:
            t.get(b"txe/a")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         cm.exception.details())
        t.close_send()
        # An empty key inside a transaction.
        t = self.txn()
        t.begin()
        with self.assertRaises(grpc.RpcError) as cm:
            t.put(b"", b"v")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         cm.exception.details())
        t.close_send()

    # ------------------------------------------------------------ bad input

    def test_bad_input(self):
        for fn, req in (
                (self.kv.Get, kv_pb2.GetRequest(key=b"")),
                (self.kv.Put, kv_pb2.PutRequest(key=b"", value=b"v")),
                (self.kv.Delete, kv_pb2.DeleteRequest(key=b"")),
                (self.kv.Merge, kv_pb2.MergeRequest(key=b"", operator="add",
                                                    operand=b"1"))):
            e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, fn, req)
            self.assertIn("key", e.details())
        # Keys and values of the largest accepted sizes.
        self.put(b"k" * (16 << 10), b"max-size key is fine")
        self.put(b"bad/maxv", b"v" * (4 << 20))
        self.assertEqual(len(self.get(b"bad/maxv").value), 4 << 20)
        # A read at a snapshot that is not held.
        self.put(b"bad/x", b"v")
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.kv.Get,
                        kv_pb2.GetRequest(key=b"bad/x", snapshot_seq=1))

    def test_size_limits(self):
        # kv.proto: a key or value over its size limit is INVALID_ARGUMENT.
        big_key = b"k" * ((16 << 10) + 1)
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Put,
                            kv_pb2.PutRequest(key=big_key, value=b"v"))
        self.assertIn("key", e.details())
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Put,
                        kv_pb2.PutRequest(key=b"lim/v",
                                          value=b"v" * ((4 << 20) + 1)))
        self.assertFalse(self.get(b"lim/v").found)

    # ------------------------------------------------------------ admin

    def test_admin_stats_flush_compact(self):
        st = self.admin.Stats(admin_pb2.StatsRequest(), timeout=RPC_TIMEOUT)
        self.assertTrue(st.version)
        self.assertGreater(len(st.levels), 0)
        self.assertEqual(st.background_error, "")
        self.assertFalse(st.write_stopped)

        for i in range(50):
            s = self.put(b"adm/%02d" % i, b"x" * 100)
        st = self.admin.Stats(admin_pb2.StatsRequest(), timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(st.last_seq, s)
        self.assertGreater(st.memtable_bytes, 0)

        f = self.admin.Flush(admin_pb2.FlushRequest(), timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(f.flushed_seq, s)
        st = self.admin.Stats(admin_pb2.StatsRequest(), timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(st.flushed_seq, s)
        self.assertGreater(sum(l.files for l in st.levels), 0)
        self.assertGreater(st.live_sst_bytes, 0)
        self.assertEqual(self.get(b"adm/07").value, b"x" * 100)

        # Overwrite and delete, flush again, compact a range and everything.
        for i in range(0, 50, 2):
            self.kv.Delete(kv_pb2.DeleteRequest(key=b"adm/%02d" % i),
                           timeout=RPC_TIMEOUT)
        self.put(b"adm/01", b"new")
        self.admin.Flush(admin_pb2.FlushRequest(no_wait=True),
                         timeout=RPC_TIMEOUT)
        self.admin.Compact(admin_pb2.CompactRequest(start=b"adm/", end=b"adm0"),
                           timeout=RPC_TIMEOUT)
        self.admin.Compact(admin_pb2.CompactRequest(), timeout=RPC_TIMEOUT)
        _, kvs = self.scan(prefix=b"adm/")
        self.assertEqual([kv.key for kv in kvs],
                         [b"adm/%02d" % i for i in range(1, 50, 2)])
        self.assertEqual(self.get(b"adm/01").value, b"new")
        st = self.admin.Stats(admin_pb2.StatsRequest(), timeout=RPC_TIMEOUT)
        self.assertGreater(sum(l.files for l in st.levels), 0)
        self.assertGreater(st.uptime_seconds + 1, 0)

    def test_admin_checkpoint(self):
        self.put(b"ckpt/before", b"1")
        ckpt = os.path.join(self.tmp, "checkpoint-1")
        resp = self.admin.Checkpoint(admin_pb2.CheckpointRequest(dir=ckpt),
                                     timeout=RPC_TIMEOUT)
        self.assertEqual(os.path.realpath(resp.dir), os.path.realpath(ckpt))
        self.assertTrue(os.path.isdir(ckpt))
        self.assertTrue(os.listdir(ckpt))
        self.put(b"ckpt/after", b"2")
        # The directory must not exist yet.
        with self.assertRaises(grpc.RpcError) as cm:
            self.admin.Checkpoint(admin_pb2.CheckpointRequest(dir=ckpt),
                                  timeout=RPC_TIMEOUT)
        self.assertIn(cm.exception.code(),
                      (grpc.StatusCode.INVALID_ARGUMENT,
                       grpc.StatusCode.ALREADY_EXISTS,
                       grpc.StatusCode.FAILED_PRECONDITION),
                      cm.exception.details())
        # A relative path is refused.
        with self.assertRaises(grpc.RpcError) as cm:
            self.admin.Checkpoint(admin_pb2.CheckpointRequest(dir="rel/ckpt"),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

        # The checkpoint opens as a database of its own.
        other = cairnd_harness.Cairnd(
            ARGS.cairnd, ckpt, os.path.join(self.tmp, "cairnd-ckpt.log"),
            stub_dir=os.path.join(self.tmp, "gen"))
        other.start(timeout=60)
        try:
            with grpc.insecure_channel(other.address) as ch:
                kv = kv_pb2_grpc.KVStub(ch)
                r = kv.Get(kv_pb2.GetRequest(key=b"ckpt/before"),
                           timeout=RPC_TIMEOUT)
                self.assertEqual((r.found, r.value), (True, b"1"))
                r = kv.Get(kv_pb2.GetRequest(key=b"ckpt/after"),
                           timeout=RPC_TIMEOUT)
                self.assertFalse(r.found)
        finally:
            code = other.stop(signal.SIGTERM, timeout=SHUTDOWN_TIMEOUT)
        self.assertEqual(code, 0, other.log_tail())

    def test_admin_snapshot(self):
        s1 = self.put(b"snap/k", b"v1")
        self.put(b"snap/gone", b"here")
        before = now_micros()
        snap = self.admin.AcquireSnapshot(
            admin_pb2.AcquireSnapshotRequest(ttl_millis=120_000),
            timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(snap.seq, s1)
        self.assertGreaterEqual(snap.expires_at_unix_micros,
                                before + 120_000_000 - 5_000_000)
        self.assertLessEqual(snap.expires_at_unix_micros,
                             now_micros() + 120_000_000 + 5_000_000)
        s2 = self.put(b"snap/k", b"v2")
        self.kv.Delete(kv_pb2.DeleteRequest(key=b"snap/gone"),
                       timeout=RPC_TIMEOUT)
        self.put(b"snap/new", b"n")
        self.admin.Flush(admin_pb2.FlushRequest(), timeout=RPC_TIMEOUT)
        self.admin.Compact(admin_pb2.CompactRequest(), timeout=RPC_TIMEOUT)

        # Get at the snapshot sees the old value; the latest read the new.
        r = self.get(b"snap/k", snapshot_seq=snap.seq)
        self.assertEqual((r.found, r.value, r.revision), (True, b"v1", s1))
        self.assertEqual(r.read_seq, snap.seq)
        r = self.get(b"snap/k")
        self.assertEqual((r.value, r.revision), (b"v2", s2))
        # MultiGet, Scan and a transaction at the snapshot.
        m = self.kv.MultiGet(kv_pb2.MultiGetRequest(
            keys=[b"snap/k", b"snap/gone", b"snap/new"],
            snapshot_seq=snap.seq), timeout=RPC_TIMEOUT)
        self.assertEqual(m.read_seq, snap.seq)
        self.assertEqual([(x.found, x.value) for x in m.results],
                         [(True, b"v1"), (True, b"here"), (False, b"")])
        chunks, kvs = self.scan(prefix=b"snap/", snapshot_seq=snap.seq)
        self.assertEqual([(kv.key, kv.value) for kv in kvs],
                         [(b"snap/gone", b"here"), (b"snap/k", b"v1")])
        self.assertTrue(all(c.read_seq == snap.seq for c in chunks))
        t = self.txn()
        b = t.begin(snapshot_seq=snap.seq)
        self.assertEqual(b.begun.snapshot_seq, snap.seq)
        self.assertEqual(t.get(b"snap/k").get.value, b"v1")
        t.rollback()
        try:
            t.finish()
        except grpc.RpcError:
            pass
        st = self.admin.Stats(admin_pb2.StatsRequest(), timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(st.snapshots, 1)

        # Released: reads at it fail.
        self.admin.ReleaseSnapshot(admin_pb2.ReleaseSnapshotRequest(
            seq=snap.seq), timeout=RPC_TIMEOUT)
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.kv.Get,
                        kv_pb2.GetRequest(key=b"snap/k",
                                          snapshot_seq=snap.seq))

        # ttl 0 takes --snapshot_default_ttl (60 s).
        before = now_micros()
        snap = self.admin.AcquireSnapshot(admin_pb2.AcquireSnapshotRequest(),
                                          timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(snap.expires_at_unix_micros,
                                before + 60_000_000 - 5_000_000)
        self.assertLessEqual(snap.expires_at_unix_micros,
                             now_micros() + 60_000_000 + 5_000_000)
        self.admin.ReleaseSnapshot(admin_pb2.ReleaseSnapshotRequest(
            seq=snap.seq), timeout=RPC_TIMEOUT)

    def test_snapshot_ttl_capped(self):
        # admin.proto: ttl_millis is "Capped by --snapshot_max_ttl" (1 h).
        snap = self.admin.AcquireSnapshot(
            admin_pb2.AcquireSnapshotRequest(ttl_millis=10 * 3600 * 1000),
            timeout=RPC_TIMEOUT)
        self.assertLessEqual(snap.expires_at_unix_micros,
                             now_micros() + 3600_000_000 + 5_000_000)
        self.admin.ReleaseSnapshot(admin_pb2.ReleaseSnapshotRequest(
            seq=snap.seq), timeout=RPC_TIMEOUT)

    def test_snapshot_ttl_expires(self):
        snap = self.admin.AcquireSnapshot(
            admin_pb2.AcquireSnapshotRequest(ttl_millis=1000),
            timeout=RPC_TIMEOUT)
        self.get(b"snapttl/x", snapshot_seq=snap.seq)  # held now
        deadline = time.monotonic() + 20
        while True:
            try:
                self.get(b"snapttl/x", snapshot_seq=snap.seq)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.FAILED_PRECONDITION)
                break
            self.assertLess(time.monotonic(), deadline,
                            "a 1 s snapshot still held after 20 s")
            time.sleep(0.2)

    # ------------------------------------------------------------ replication

    def test_tail_and_named_consumer(self):
        # A Python CDC consumer: tail from a sequence, ack, list, drop.
        first = self.kv.Put(kv_pb2.PutRequest(key=b"py/tail/1", value=b"a"),
                            timeout=RPC_TIMEOUT).seq
        last = self.kv.Put(kv_pb2.PutRequest(key=b"py/tail/2", value=b"b"),
                           timeout=RPC_TIMEOUT).seq
        stream = self.repl.Tail(replication_pb2.TailRequest(
            from_seq=first, consumer="py-cdc",
            filter=replication_pb2.TailFilter(prefix=b"py/tail/")),
            timeout=RPC_TIMEOUT)
        events = []
        for resp in stream:
            events.extend(resp.events)
            if events and events[-1].seq >= last:
                break
        stream.cancel()
        self.assertEqual([(e.seq, e.key, e.value) for e in events],
                         [(first, b"py/tail/1", b"a"), (last, b"py/tail/2", b"b")])
        self.assertEqual(events[0].op, replication_pb2.CHANGE_OP_PUT)
        self.repl.Ack(replication_pb2.AckRequest(consumer="py-cdc", seq=first),
                      timeout=RPC_TIMEOUT)
        listed = {c.name: c for c in self.repl.ListConsumers(
            replication_pb2.ListConsumersRequest(), timeout=RPC_TIMEOUT).consumers}
        self.assertEqual(listed["py-cdc"].acked_seq, first)
        self.assertGreaterEqual(listed["py-cdc"].lag_seqs, 1)
        self.repl.DropConsumer(
            replication_pb2.DropConsumerRequest(consumer="py-cdc"),
            timeout=RPC_TIMEOUT)
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.repl.Ack,
                        replication_pb2.AckRequest(consumer="py-cdc", seq=1))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.repl.Tail,
                        replication_pb2.TailRequest(from_seq=0))


def main():
    global ARGS
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cairnd", required=True, help="path of cairnd")
    parser.add_argument("--proto_dir",
                        default=os.path.normpath(os.path.join(here, "../../../proto")),
                        help="directory holding cairn/v1/*.proto")
    parser.add_argument("--keep_tmp", action="store_true",
                        help="keep the temporary directory (data, logs)")
    ARGS, rest = parser.parse_known_args()
    ARGS.cairnd = os.path.abspath(ARGS.cairnd)
    if not os.access(ARGS.cairnd, os.X_OK):
        sys.stderr.write("not an executable: %s\n" % ARGS.cairnd)
        return 2
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
