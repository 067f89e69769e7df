#!/usr/bin/env python3
"""Micro-benchmark + semantics check of the MongoDB-protocol store named by VECHE_MONGO_URL.

Standalone: needs only pymongo>=4.13 (uses pymongo.AsyncMongoClient, not motor).

    VECHE_MONGO_URL=mongodb://127.0.0.1:27017/ python deploy/local/bench_store.py [--docs 20000]

Works in a throw-away database (veche_bench_<random>) that is dropped at the end.
Prints one table row per operation; exits 1 if a semantic check failed or a phase timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass, field

import pymongo
from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

if tuple(int(x) for x in pymongo.version.split(".")[:2]) < (4, 13):
    sys.exit(f"bench_store.py needs pymongo>=4.13 (AsyncMongoClient), found {pymongo.version}")


@dataclass
class Row:
    name: str
    ops: int = 0
    seconds: float = 0.0
    lat_ms: list[float] = field(default_factory=list)
    check: str = ""
    ok: bool = True

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> str:
        if not self.lat_ms:
            return "-"
        xs = sorted(self.lat_ms)
        return f"{xs[min(len(xs) - 1, int(q * len(xs)))]:.2f}"


ROWS: list[Row] = []
PAYLOAD = "x" * 900  # + the other fields -> ~1 KB BSON per document


ID_TYPE = "str"


def oid(i: int):
    """_id for document i: a string by default (FerretDB's SQLite backend pushes down only
    string/ObjectId _id equality; integer _ids make every by-_id op scan the collection)."""
    return f"d{i:08d}" if ID_TYPE == "str" else i


def make_doc(i: int) -> dict:
    return {
        "_id": oid(i),
        "n": i,
        "kind": "bench",
        "payload": PAYLOAD,
        "tags": ["a", "b", "c"],
        "counter": 0,
    }


async def timed(lat: list[float], coro):
    t = time.perf_counter()
    r = await coro
    lat.append((time.perf_counter() - t) * 1000)
    return r


async def run_concurrent(n_ops: int, conc: int, op) -> list[float]:
    """Run op(i) for i in range(n_ops) with `conc` workers; return per-op latencies in ms."""
    lat: list[float] = []
    it = iter(range(n_ops))

    async def worker():
        for i in it:
            await timed(lat, op(i))

    await asyncio.gather(*(worker() for _ in range(conc)))
    return lat


async def phase(name: str, timeout: float, fn) -> Row:
    row = Row(name)
    t = time.perf_counter()
    try:
        await asyncio.wait_for(fn(row), timeout)
    except TimeoutError:
        row.ok, row.check = False, f"TIMEOUT after {timeout:.0f}s (server hung?)"
    except Exception as e:
        row.ok, row.check = False, f"ERROR {type(e).__name__}: {str(e)[:120]}"
    row.seconds = row.seconds or (time.perf_counter() - t)
    ROWS.append(row)
    mark = "ok" if row.ok else "FAIL"
    print(f"  .. {name}: {row.rate:,.0f} ops/s {mark} {row.check}", file=sys.stderr, flush=True)
    return row


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--url", default=os.environ.get("VECHE_MONGO_URL", "mongodb://127.0.0.1:27017/")
    )
    ap.add_argument(
        "--docs", type=int, default=20_000, help="documents for insert_many (batches of 500)"
    )
    ap.add_argument("--ops", type=int, default=2_000, help="operations per point-op phase")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument(
        "--timeout", type=float, default=180, help="seconds per phase before it counts as hung"
    )
    ap.add_argument(
        "--id-type", choices=["str", "int"], default="str", help="_id type of the bench documents"
    )
    args = ap.parse_args()
    global ID_TYPE
    ID_TYPE = args.id_type

    client: AsyncMongoClient = AsyncMongoClient(
        args.url, serverSelectionTimeoutMS=5000, maxPoolSize=100
    )
    dbname = f"veche_bench_{uuid.uuid4().hex[:8]}"
    db = client[dbname]
    coll = db["docs"]
    counters = db["counters"]
    T = args.timeout
    N, OPS, C = args.docs, args.ops, args.concurrency

    try:
        hello = await client.admin.command("hello")
    except OperationFailure:  # servers older than MongoDB 4.4 (mongo-java-server) know isMaster
        hello = await client.admin.command("isMaster")
    build = await client.admin.command("buildInfo")
    print(
        f"server: {args.url}  version {build.get('version')}  "
        f"ferretdb={build.get('ferretdbVersion', '-')}  maxWriteBatchSize={hello.get('maxWriteBatchSize')}"
    )
    print(
        f"database: {dbname}  docs={N}  ops/phase={OPS}  concurrency={C}  _id={ID_TYPE}  pymongo {pymongo.version}"
    )

    try:
        await db.command("create", "docs")
        await db.command("create", "counters")

        # 1. insert_many, batches of 500 ~1 KB docs
        async def p_insert(row: Row):
            t = time.perf_counter()
            for start in range(0, N, 500):
                batch = [make_doc(i) for i in range(start, min(N, start + 500))]
                await timed(row.lat_ms, coll.insert_many(batch))
            row.seconds, row.ops = time.perf_counter() - t, N
            cnt = await coll.count_documents({})
            row.ok = cnt == N
            row.check = f"count={cnt}" + ("" if row.ok else f" != {N}")

        await phase("insert_many (500/batch, ~1KB docs)", T, p_insert)

        # 2. insert_many ordered=False, 50% duplicate _ids
        async def p_dups(row: Row):
            existing = list(range(0, 500))  # already inserted
            fresh_n = list(range(N + 10_000, N + 10_500))
            fresh = [oid(i) for i in fresh_n]
            docs = [make_doc(i) for pair in zip(existing, fresh_n) for i in pair]
            t = time.perf_counter()
            try:
                await timed(row.lat_ms, coll.insert_many(docs, ordered=False))
                row.ok, row.check = False, "no BulkWriteError raised"
                return
            except BulkWriteError as e:
                row.seconds, row.ops = time.perf_counter() - t, len(docs)
                det = e.details
                codes = {w.get("code") for w in det.get("writeErrors", [])}
                n_err, n_ins = len(det.get("writeErrors", [])), det.get("nInserted")
            present = await coll.count_documents({"_id": {"$in": fresh}})
            row.ok = codes == {11000} and n_err == 500 and present == 500 and n_ins == 500
            row.check = f"BulkWriteError codes={sorted(codes)} writeErrors={n_err} nInserted={n_ins} new present={present}/500"

        await phase("insert_many ordered=False 50% dup _id", T, p_dups)

        # 3. update_one by _id, sequential
        async def p_upd_seq(row: Row):
            t = time.perf_counter()
            for i in range(OPS):
                await timed(
                    row.lat_ms,
                    coll.update_one(
                        {"_id": oid(i % N)}, {"$inc": {"counter": 1}, "$set": {"s": i}}
                    ),
                )
            row.seconds, row.ops = time.perf_counter() - t, OPS

        await phase("update_one by _id, sequential", T, p_upd_seq)

        # 4. update_one by _id, concurrent
        async def p_upd_conc(row: Row):
            t = time.perf_counter()
            row.lat_ms = await run_concurrent(
                OPS * 2,
                C,
                lambda i: coll.update_one({"_id": oid((i * 7919) % N)}, {"$inc": {"counter": 1}}),
            )
            row.seconds, row.ops = time.perf_counter() - t, OPS * 2

        await phase(f"update_one by _id, {C} concurrent", T, p_upd_conc)

        # 5. bulk_write of 40 UpdateOne
        async def p_bulk(row: Row):
            batches = max(1, OPS // 40)
            t = time.perf_counter()
            for b in range(batches):
                reqs = [
                    UpdateOne({"_id": oid((b * 40 + j) % N)}, {"$inc": {"counter": 1}})
                    for j in range(40)
                ]
                r = await timed(row.lat_ms, coll.bulk_write(reqs, ordered=False))
                if r.matched_count != 40:
                    row.ok, row.check = False, f"matched {r.matched_count} != 40"
            row.seconds, row.ops = time.perf_counter() - t, batches * 40
            if row.ok:
                row.check = (
                    f"{batches} bulks, {batches / row.seconds:,.1f} bulks/s (ops/s counts updates)"
                )

        await phase("bulk_write 40x UpdateOne", T, p_bulk)

        # 6. find_one by _id, sequential / concurrent
        async def p_find_seq(row: Row):
            t = time.perf_counter()
            for i in range(OPS):
                d = await timed(row.lat_ms, coll.find_one({"_id": oid((i * 31) % N)}))
                if d is None:
                    row.ok, row.check = False, f"_id {oid((i * 31) % N)} not found"
            row.seconds, row.ops = time.perf_counter() - t, OPS

        await phase("find_one by _id, sequential", T, p_find_seq)

        async def p_find_conc(row: Row):
            t = time.perf_counter()
            row.lat_ms = await run_concurrent(
                OPS * 2, C, lambda i: coll.find_one({"_id": oid((i * 7919) % N)})
            )
            row.seconds, row.ops = time.perf_counter() - t, OPS * 2

        await phase(f"find_one by _id, {C} concurrent", T, p_find_conc)

        # 7. find_one_and_update $inc upsert counter, 50 concurrent tasks (atomicity)
        async def fau_phase(row: Row, key: str, precreate: bool):
            if precreate:
                await counters.insert_one({"_id": key, "v": 0})
            lat: list[float] = []

            async def one():
                d = await timed(
                    lat,
                    counters.find_one_and_update(
                        {"_id": key},
                        {"$inc": {"v": 1}},
                        upsert=True,
                        return_document=ReturnDocument.AFTER,
                    ),
                )
                return d["v"]

            t = time.perf_counter()
            res = await asyncio.gather(*(one() for _ in range(50)), return_exceptions=True)
            row.seconds, row.ops, row.lat_ms = time.perf_counter() - t, 50, lat
            errs = [r for r in res if isinstance(r, BaseException)]
            vals = [r for r in res if not isinstance(r, BaseException)]
            final = (await counters.find_one({"_id": key}) or {}).get("v")
            row.ok = (
                not errs
                and final == 50
                and len(set(vals)) == 50
                and sorted(vals) == list(range(1, 51))
            )
            row.check = f"final={final} distinct={len(set(vals))}/50 errors={len(errs)}"
            if errs:
                row.check += f" first={type(errs[0]).__name__}: {str(errs[0])[:80]}"

        await phase(
            "find_one_and_update $inc upsert x50 (new key)",
            T,
            lambda row: fau_phase(row, "fresh", precreate=False),
        )
        await phase(
            "find_one_and_update $inc x50 (existing key)",
            T,
            lambda row: fau_phase(row, "existing", precreate=True),
        )

        # 8. create_index unique on a populated collection + enforcement
        async def p_index(row: Row):
            t = time.perf_counter()
            name = await timed(
                row.lat_ms, coll.create_index([("n", 1)], unique=True, name="n_unique")
            )
            row.seconds, row.ops = time.perf_counter() - t, 1
            try:
                await coll.insert_one({"_id": "dup-n", "n": 1})
                row.ok, row.check = False, "duplicate n accepted"
            except DuplicateKeyError as e:
                row.check = f"index {name}; duplicate rejected code={e.code}"
                row.ok = e.code == 11000

        await phase(f"create_index unique ({N + 500} docs)", T, p_index)
    finally:
        try:
            await asyncio.wait_for(client.drop_database(dbname), 60)
        finally:
            await client.close()

    # table
    hdr = f"{'operation':<46} {'ops':>7} {'sec':>7} {'ops/s':>9} {'p50 ms':>7} {'p99 ms':>7}  check"
    print()
    print(hdr)
    print("-" * len(hdr))
    for r in ROWS:
        status = "ok" if r.ok else "FAIL"
        print(
            f"{r.name:<46} {r.ops:>7} {r.seconds:>7.2f} {r.rate:>9,.0f} {r.pct(0.5):>7} {r.pct(0.99):>7}  "
            f"{status} {r.check}"
        )
    failed = [r.name for r in ROWS if not r.ok]
    print()
    print(
        f"{len(ROWS) - len(failed)} passed, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
