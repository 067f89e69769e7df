"""``veche-otlp-sink``: a tiny OTLP/HTTP trace receiver that appends spans to a JSON Lines file.

For local runs and end-to-end tests where no Jaeger or collector is available: the services
export real OTLP protobuf to it, and a test (or a person) reads whole traces back from the file.
Production sends OTLP to an OpenTelemetry Collector instead (deploy/k8s).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def spans_from_request(payload: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    spans: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "service": resource.get("service.name"),
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "kind": span.kind,
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "attributes": {a.key: _value(a.value) for a in span.attributes},
                        "events": [
                            {
                                "name": event.name,
                                "time_ns": event.time_unix_nano,
                                "attributes": {a.key: _value(a.value) for a in event.attributes},
                            }
                            for event in span.events
                        ],
                        "links": [
                            {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                            for link in span.links
                        ],
                    }
                )
    return spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return (
        getattr(value, kind)
        if kind in {"string_value", "int_value", "bool_value", "double_value"}
        else None
    )


def create_sink(out: Path) -> Starlette:
    out.parent.mkdir(parents=True, exist_ok=True)

    async def receive_traces(request: Request) -> Response:
        spans = spans_from_request(await request.body())
        with out.open("a", encoding="utf-8") as sink:
            for span in spans:
                sink.write(json.dumps(span, ensure_ascii=False) + "\n")
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    return Starlette(routes=[Route("/v1/traces", receive_traces, methods=["POST"])])


def read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--out", type=Path, default=Path(".local/traces/spans.jsonl"))
    args = parser.parse_args(argv)
    uvicorn.run(create_sink(args.out), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
