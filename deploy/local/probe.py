#!/usr/bin/env python3
"""Readiness probes for deploy/local/infra.sh (stdlib only, so any python3 works).

  probe.py kafka HOST PORT   -> ApiVersions v0 + Metadata v4; OK when the broker lists >= 1 broker
  probe.py mongo HOST PORT   -> OP_MSG {ping: 1} against admin; OK when ok == 1
  probe.py cluster-id        -> prints a random Kafka cluster id (base64url UUID, 22 chars)

Exit 0 when healthy, 1 otherwise (reason on stderr). Each probe is bounded by a 3 s socket timeout.
"""

import base64
import socket
import struct
import sys
import uuid

TIMEOUT = 3.0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return buf


def _kstr(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    header = struct.pack(">hhi", api_key, version, corr) + _kstr("veche-probe")
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    resp = _recv_exact(sock, size)
    (got_corr,) = struct.unpack(">i", resp[:4])
    if got_corr != corr:
        raise ValueError(f"correlation id mismatch {got_corr} != {corr}")
    return resp[4:]


def probe_kafka(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        # ApiVersions v0: empty body; response starts with int16 error_code.
        resp = _kafka_call(s, 18, 0, 1, b"")
        (err,) = struct.unpack(">h", resp[:2])
        if err != 0:
            raise ValueError(f"ApiVersions error_code={err}")
        # Metadata v4: topics = [] (no topics), allow_auto_topic_creation = false.
        resp = _kafka_call(s, 3, 4, 2, struct.pack(">i", 0) + b"\x00")
        # v4 response: throttle_time_ms int32, brokers array int32 count, ...
        (_throttle, nbrokers) = struct.unpack(">ii", resp[:8])
        if nbrokers < 1:
            raise ValueError("broker not registered yet (metadata lists no brokers)")


def _bson_ping() -> bytes:
    def cstr(s: str) -> bytes:
        return s.encode() + b"\x00"

    elems = b"\x10" + cstr("ping") + struct.pack("<i", 1)
    db = b"admin" + b"\x00"
    elems += b"\x02" + cstr("$db") + struct.pack("<i", len(db)) + db
    return struct.pack("<i", 4 + len(elems) + 1) + elems + b"\x00"


def probe_mongo(host: str, port: int) -> None:
    doc = _bson_ping()
    body = struct.pack("<I", 0) + b"\x00" + doc  # flagBits, section kind 0, document
    header = struct.pack("<iiii", 16 + len(body), 1, 0, 2013)  # OP_MSG
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        s.sendall(header + body)
        (length,) = struct.unpack("<i", _recv_exact(s, 4))
        rest = _recv_exact(s, length - 4)
        _req, _resp_to, opcode = struct.unpack("<iii", rest[:12])
        if opcode != 2013:
            raise ValueError(f"unexpected reply opcode {opcode}")
        reply = rest[12 + 4 + 1 :]
        # ok is a double 1.0 (or int32 1) in a healthy reply
        if (
            b"\x01ok\x00" + struct.pack("<d", 1.0) not in reply
            and b"\x10ok\x00" + struct.pack("<i", 1) not in reply
        ):
            raise ValueError(f"ping not ok: {reply!r}")


def main(argv: list) -> int:
    if len(argv) == 2 and argv[1] == "cluster-id":
        print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        return 0
    if len(argv) != 4 or argv[1] not in ("kafka", "mongo"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, host, port = argv[1], argv[2], int(argv[3])
    try:
        (probe_kafka if kind == "kafka" else probe_mongo)(host, port)
    except Exception as e:
        print(f"{kind} {host}:{port} not ready: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
