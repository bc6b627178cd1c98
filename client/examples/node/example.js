#!/usr/bin/env node
// Cairn from Node.js: put, get, scan, a conditional batch, transactions that
// retry on conflict, and a change stream (Replication.Tail).
//
// Each step prints what it does and checks its own result. The program exits
// 0 only if every check held, 1 if one failed or a call returned an error.
//
//   npm install
//   node example.js [--endpoint HOST:PORT] [--token TOKEN] [--proto-dir DIR]
//
// The .proto files are loaded at run time with @grpc/proto-loader from the
// repository's proto/ directory (default: ../../../proto from this file).
'use strict';

const crypto = require('crypto');
const path = require('path');
const { parseArgs } = require('util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const RPC_TIMEOUT_MS = 10_000; // every call
const TAIL_TIMEOUT_MS = 30_000; // the whole Tail stream
const WORKERS = 2; // concurrent transactional incrementers
const INCREMENTS = 10; // increments per worker
const MAX_ATTEMPTS = 50; // transaction attempts per increment before giving up

class CheckFailed extends Error {}

function check(condition, what) {
  if (!condition) throw new CheckFailed(what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const deadline = (ms = RPC_TIMEOUT_MS) => new Date(Date.now() + ms);
const str = (buf) => buf.toString('utf8');

// Proto-loader options: field names as in the .proto files (read_seq,
// failed_condition), bytes as Buffer, enums as their names, unset fields
// with their defaults, and uint64 as decimal strings: sequences are turned
// into BigInt for arithmetic (seq() below).
function loadServices(protoDir) {
  const definition = protoLoader.loadSync(
    ['cairn/v1/kv.proto', 'cairn/v1/replication.proto'],
    {
      includeDirs: [protoDir],
      keepCase: true,
      bytes: Buffer,
      enums: String,
      longs: String,
      defaults: true,
      oneofs: true,
    });
  return grpc.loadPackageDefinition(definition).cairn.v1;
}

const seq = (value) => BigInt(value);

class Client {
  constructor(cairn, endpoint, token) {
    const limit = 24 << 20; // accept messages as large as the server sends
    const options = {
      'grpc.max_receive_message_length': limit,
      'grpc.max_send_message_length': limit,
    };
    const creds = grpc.credentials.createInsecure();
    this.kv = new cairn.KV(endpoint, creds, options);
    this.replication = new cairn.Replication(endpoint, creds, {
      ...options, channelOverride: this.kv.getChannel(),
    });
    this.token = token;
  }

  // With auth on, every call carries "authorization: Bearer <token>".
  metadata() {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  // A unary call as a promise.
  unary(stub, method, request) {
    return new Promise((resolve, reject) => {
      stub[method](request, this.metadata(), { deadline: deadline() },
        (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  close() {
    this.kv.close(); // closes the channel both stubs share
  }
}

// Every write this program made, by sequence, for the Tail check.
class Writes {
  constructor() {
    this.bySeq = new Map(); // BigInt seq -> {op, key, value, group}
  }

  // group: [first seq, size] of the atomic write the seq belongs to; a lone
  // put or a one-write transaction is its own group.
  add(s, op, key, value, group = [s, 1]) {
    if (this.bySeq.has(s)) throw new Error(`seq ${s} reported twice`);
    this.bySeq.set(s, { op, key, value, group });
  }
}

// -- put, get, scan -----------------------------------------------------------

async function putAndGet(c, prefix, writes) {
  const key = Buffer.from(`${prefix}greeting`);
  const put = await c.unary(c.kv, 'Put', { key, value: Buffer.from('hello') });
  const putSeq = seq(put.seq);
  console.log(`put ${key} = 'hello' -> seq ${putSeq}`);
  writes.add(putSeq, 'PUT', key, Buffer.from('hello'));

  const r = await c.unary(c.kv, 'Get', { key });
  console.log(`get ${key} -> found=${r.found} value='${str(r.value)}' ` +
              `revision=${r.revision} read_seq=${r.read_seq}`);
  check(r.found && str(r.value) === 'hello', 'get returned the value put');
  check(seq(r.revision) === putSeq, "the key's revision is the put's seq");
  check(seq(r.read_seq) >= putSeq, 'the read saw the put');

  const missing = Buffer.from(`${prefix}no-such-key`);
  const m = await c.unary(c.kv, 'Get', { key: missing });
  console.log(`get ${missing} -> found=${m.found}`);
  check(!m.found && seq(m.revision) === 0n, 'an absent key is not found');
  return putSeq;
}

async function scanPrefix(c, prefix, writes) {
  const fruit = { apple: 'red', banana: 'yellow', cherry: 'dark red' };
  const items = `${prefix}fruit/`;
  const revisions = new Map();
  for (const name of ['cherry', 'apple', 'banana']) { // any order; Scan sorts
    const key = Buffer.from(items + name);
    const value = Buffer.from(fruit[name]);
    const s = seq((await c.unary(c.kv, 'Put', { key, value })).seq);
    console.log(`put ${key} = '${value}' -> seq ${s}`);
    writes.add(s, 'PUT', key, value);
    revisions.set(items + name, s);
  }

  const found = [];
  const readSeqs = new Set();
  const stream = c.kv.Scan({ prefix: Buffer.from(items) }, c.metadata(),
    { deadline: deadline() });
  for await (const chunk of stream) {
    readSeqs.add(chunk.read_seq);
    found.push(...chunk.kvs);
  }
  console.log(`scan prefix ${items} -> ${found.length} keys at read_seq ` +
              [...readSeqs].join(','));
  for (const kv of found) {
    console.log(`  ${kv.key} = '${kv.value}' (revision ${kv.revision})`);
  }
  check(found.map((kv) => str(kv.key)).join('|') ===
        Object.keys(fruit).sort().map((n) => items + n).join('|'),
        'scan returned the three keys in key order');
  check(found.every((kv) =>
    str(kv.value) === fruit[str(kv.key).slice(items.length)] &&
    seq(kv.revision) === revisions.get(str(kv.key))),
  "scan returned each key's value and revision");
  const lastPut = [...revisions.values()].reduce((a, b) => (a > b ? a : b));
  check(readSeqs.size === 1 && seq([...readSeqs][0]) >= lastPut,
        'every chunk reads at one sequence that includes the puts');
}

// -- a batch with conditions --------------------------------------------------

// Create-if-absent: two puts applied only if 'greeting' exists and 'config'
// does not. The second, identical attempt must fail on condition 1 and write
// nothing.
async function conditionalBatch(c, prefix, writes) {
  const greeting = Buffer.from(`${prefix}greeting`);
  const config = Buffer.from(`${prefix}config`);
  const owner = Buffer.from(`${prefix}config-owner`);
  const attempt = (value) => c.unary(c.kv, 'Batch', {
    conditions: [
      { kind: 'EXISTS', key: greeting },
      { kind: 'ABSENT', key: config },
    ],
    ops: [
      { put: { key: config, value: Buffer.from(value) } },
      { put: { key: owner, value: Buffer.from('example.js') } },
    ],
  });

  let r = await attempt('v1');
  console.log(`batch if exists(${greeting}) and absent(${config}): ` +
              `put ${config} = 'v1', put ${owner} -> succeeded=${r.succeeded} ` +
              `seq=${r.seq} failed_condition=${r.failed_condition}`);
  check(r.succeeded && r.failed_condition === -1 && seq(r.seq) > 0n,
        'the create-if-absent batch succeeded');
  // The batch occupies seq - len(ops) + 1 .. seq, one seq per op in order.
  const last = seq(r.seq);
  writes.add(last - 1n, 'PUT', config, Buffer.from('v1'), [last - 1n, 2]);
  writes.add(last, 'PUT', owner, Buffer.from('example.js'), [last - 1n, 2]);

  r = await attempt('v2');
  console.log(`batch again with 'v2' -> succeeded=${r.succeeded} ` +
              `seq=${r.seq} failed_condition=${r.failed_condition} ` +
              `(absent(${config}) no longer holds)`);
  check(!r.succeeded && seq(r.seq) === 0n && r.failed_condition === 1,
        'the second batch failed on condition 1');

  const g = await c.unary(c.kv, 'Get', { key: config });
  console.log(`get ${config} -> '${g.value}' (revision ${g.revision})`);
  check(str(g.value) === 'v1' && seq(g.revision) === last - 1n,
        'the failed batch wrote nothing');
}

// -- transactions with retry on conflict --------------------------------------

// One KV.Txn stream. Each request gets exactly one response, in order, so
// request() writes one and resolves with its answer.
class Txn {
  constructor(c) {
    this.call = c.kv.Txn(c.metadata(), { deadline: deadline() });
    this.pending = []; // {resolve, reject} per request sent, in order
    this.failure = null;
    this.ended = new Promise((resolve) => this.call.on('status', resolve));
    this.call.on('data', (response) => {
      const p = this.pending.shift();
      if (p) p.resolve(response);
    });
    this.call.on('error', (err) => this.fail(err));
    this.call.on('end', () =>
      this.fail(new CheckFailed('the Txn stream ended without a response')));
  }

  fail(err) {
    this.failure = this.failure || err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  request(req) {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.call.write(req);
    });
  }

  // Half-closes and waits for the end of the stream, which must be OK.
  async finish() {
    this.call.end();
    const status = await this.ended;
    check(status.code === grpc.status.OK,
          `the Txn stream ended with ${grpc.status[status.code]}`);
  }

  cancel() {
    this.call.cancel();
  }
}

// Resolves once `parties` callers wait on it (or rejects after a timeout).
function barrier(parties, timeoutMs = RPC_TIMEOUT_MS) {
  let arrived = 0;
  let release;
  const all = new Promise((resolve) => { release = resolve; });
  return () => {
    arrived += 1;
    if (arrived === parties) release();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed('barrier timed out')),
        timeoutMs);
    });
    return Promise.race([all, timeout]).finally(() => clearTimeout(timer));
  };
}

// Adds 1 to the decimal counter at key in a transaction, retrying with a
// jittered backoff when the commit is ABORTED. Returns {old, aborts}. With a
// barrier, the first attempt waits after its read until every worker has
// read: all read the same value, so all commits but one must abort.
async function increment(c, key, worker, writes, wait) {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const txn = new Txn(c);
    let old = null;
    let committed;
    try {
      await txn.request({ begin: {} });
      const got = (await txn.request({ get: { key } })).get;
      old = got.found ? Number(str(got.value)) : 0;
      if (wait) {
        await wait();
        wait = null;
      }
      await txn.request({ put: { key, value: Buffer.from(String(old + 1)) } });
      committed = (await txn.request({ commit: {} })).committed;
      await txn.finish();
    } catch (err) {
      txn.cancel();
      if (err.code !== grpc.status.ABORTED) throw err;
      const delay = 1 + Math.random() * Math.min(100, 2 * 2 ** attempt);
      console.log(`txn worker ${worker}: attempt ${attempt} (read ${old}) ` +
                  `ABORTED: ${err.details}; retry in ${delay.toFixed(0)} ms`);
      await sleep(delay);
      continue;
    }
    const s = seq(committed.seq);
    console.log(`txn worker ${worker}: ${old} -> ${old + 1} committed at ` +
                `seq ${s} (attempt ${attempt})`);
    writes.add(s, 'PUT', key, Buffer.from(String(old + 1)));
    return { old, aborts: attempt - 1 };
  }
  throw new CheckFailed(`increment still aborted after ${MAX_ATTEMPTS} attempts`);
}

async function concurrentIncrements(c, prefix, writes) {
  const key = Buffer.from(`${prefix}counter`);
  const total = WORKERS * INCREMENTS;
  console.log(`txn: ${WORKERS} concurrent workers x ${INCREMENTS} ` +
              `increments of ${key}, retrying on ABORTED`);
  const wait = barrier(WORKERS);
  const worker = async (n) => {
    const results = [];
    for (let i = 0; i < INCREMENTS; i++) {
      results.push(await increment(c, key, n, writes, i === 0 ? wait : null));
    }
    return results;
  };
  const workers = [];
  for (let n = 0; n < WORKERS; n++) workers.push(worker(n));
  const results = (await Promise.all(workers)).flat();

  const aborts = results.reduce((sum, r) => sum + r.aborts, 0);
  const value = str((await c.unary(c.kv, 'Get', { key })).value);
  console.log(`txn: ${key} = ${value} after ${results.length} increments ` +
              `(expected ${total}); ${aborts} conflicts (ABORTED) retried`);
  check(value === String(total), 'the counter equals the number of increments');
  const olds = results.map((r) => r.old).sort((a, b) => a - b);
  check(olds.every((old, i) => old === i),
        'every committed increment read a distinct value (no lost update)');
  check(aborts >= 1, 'the first increments read the same value, so one ' +
        'commit must have been aborted');
}

// -- the change stream --------------------------------------------------------

// Tails from the first put's seq until the last write's seq: the stream has
// every committed sequence in order, without gaps (other clients' writes
// included), and the events at this program's sequences are its writes.
async function tailOwnWrites(c, firstSeq, writes) {
  const lastSeq = [...writes.bySeq.keys()].reduce((a, b) => (a > b ? a : b));
  console.log(`tail from seq ${firstSeq} until seq ${lastSeq} ` +
              `(deadline ${TAIL_TIMEOUT_MS / 1000} s)`);
  const call = c.replication.Tail({ from_seq: String(firstSeq) },
    c.metadata(), { deadline: deadline(TAIL_TIMEOUT_MS) });
  const events = new Map();
  let next = firstSeq;
  try {
    for await (const resp of call) {
      for (const ev of resp.events) {
        if (next > lastSeq) break; // the rest of the chunk is newer than ours
        check(seq(ev.seq) === next, `tail: expected seq ${next}, got ${ev.seq}`);
        events.set(next, ev);
        next += 1n;
        const value = ev.op === 'CHANGE_OP_PUT' ? ` = '${ev.value}'` : '';
        console.log(`  seq ${ev.seq} ${ev.op.replace('CHANGE_OP_', '')} ` +
                    `${ev.key}${value} ` +
                    `(group ${ev.group_first_seq}+${ev.group_size})`);
      }
      if (resp.progress) {
        const committed = seq(resp.progress.committed_seq);
        console.log(`  progress: committed_seq ${committed}`);
        check(committed < lastSeq || next > lastSeq,
              `tail: progress past seq ${lastSeq} before its event`);
      }
      if (next > lastSeq) break;
    }
    check(next > lastSeq, `the Tail stream ended before seq ${lastSeq}`);
  } finally {
    call.cancel();
  }

  for (const [s, w] of [...writes.bySeq].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const ev = events.get(s);
    check(ev !== undefined, `tail: seq ${s} was delivered`);
    check(ev.op === `CHANGE_OP_${w.op}` && ev.key.equals(w.key) &&
          ev.value.equals(w.value),
          `tail: seq ${s} is ${w.op} ${w.key} = '${w.value}'`);
    check(seq(ev.group_first_seq) === w.group[0] &&
          ev.group_size === w.group[1],
          `tail: seq ${s} belongs to the atomic group ` +
          `${w.group[0]}+${w.group[1]}`);
  }
  console.log(`tail: ${events.size} events, seq ${firstSeq}..${lastSeq} in ` +
              `order with no gaps; all ${writes.bySeq.size} writes of this ` +
              `program seen (${events.size - writes.bySeq.size} from other ` +
              'clients)');
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      endpoint: {
        type: 'string',
        default: process.env.CAIRN_ENDPOINT || '127.0.0.1:7070',
      },
      token: { type: 'string', default: process.env.CAIRN_TOKEN || '' },
      'proto-dir': {
        type: 'string',
        default: path.resolve(__dirname, '..', '..', '..', 'proto'),
      },
      help: { type: 'boolean', default: false },
    },
  });
  if (args.help) {
    console.log('usage: node example.js [--endpoint HOST:PORT] ' +
                '[--token TOKEN] [--proto-dir DIR]\n' +
                '  --endpoint   cairnd address (default: $CAIRN_ENDPOINT or ' +
                '127.0.0.1:7070)\n' +
                '  --token      bearer token when auth is on, write role ' +
                '(default: $CAIRN_TOKEN)\n' +
                "  --proto-dir  the repository's proto/ directory");
    return 0;
  }

  const c = new Client(loadServices(args['proto-dir']), args.endpoint,
    args.token);
  // A fresh prefix per run: the example can run again on the same database,
  // or next to another copy of itself.
  const prefix = `example/js/${crypto.randomBytes(6).toString('hex')}/`;
  console.log(`cairnd at ${args.endpoint}, auth ` +
              `${args.token ? 'with a token' : 'off'}, keys under ${prefix}`);
  try {
    const writes = new Writes();
    const firstSeq = await putAndGet(c, prefix, writes);
    await scanPrefix(c, prefix, writes);
    await conditionalBatch(c, prefix, writes);
    await concurrentIncrements(c, prefix, writes);
    await tailOwnWrites(c, firstSeq, writes);
  } catch (err) {
    if (err instanceof CheckFailed) {
      console.log(`FAILED: check did not hold: ${err.message}`);
    } else if (err.code !== undefined && grpc.status[err.code]) {
      console.log(`FAILED: RPC error ${grpc.status[err.code]}: ${err.details}`);
    } else {
      console.log(`FAILED: ${err.stack || err}`);
    }
    return 1;
  } finally {
    c.close();
  }
  console.log('OK: all checks passed');
  return 0;
}

main().then((code) => { process.exitCode = code; });
