"""``veche-classify``: serve (default), train, evaluate, predict, bench.

``predict`` is a contract used by evaluations outside the service: JSON Lines
``{"id", "text"}`` on stdin → one line ``{"id", "topic", "urgency", "confidence"}`` per input,
in order, on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from veche_shared.events import Urgency

from . import artefact
from .domain.model import ModelOptions
from .domain.text import normalise
from .domain.urgency import apply_rules
from .settings import ClassifySettings
from .training import (
    HANDWRITTEN_WEIGHT,
    HOLDOUT_FILES,
    TRAIN_FILES,
    Example,
    evaluate,
    grouped_cv,
    metadata,
    read_jsonl,
    read_training,
    train,
)

err = Console(stderr=True)
PREDICT_BATCH = 256


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="veche-classify")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    p_train = sub.add_parser("train", help="train the model, write the artefact, print metrics")
    p_train.add_argument("--train", type=Path, action="append", help="JSONL corpus (repeatable)")
    p_train.add_argument("--holdout", type=Path, action="append", help="held-out JSONL")
    p_train.add_argument(
        "--handwritten-weight",
        type=int,
        default=HANDWRITTEN_WEIGHT,
        help="times each hand-written training text counts",
    )
    p_train.add_argument("--out", type=Path, default=None, help="artefact path (.joblib)")
    p_train.add_argument(
        "--with-feedback", action="store_true", help="add operator corrections from the store"
    )
    p_train.add_argument(
        "--cv",
        type=float,
        nargs="*",
        default=None,
        metavar="C",
        help="only report template-grouped CV macro-F1 on the training data for these C values",
    )
    p_train.add_argument(
        "--cv-urgency", action="store_true", help="with --cv: also the urgency model's CV accuracy"
    )
    defaults = ModelOptions()
    p_train.add_argument(
        "--embedding", choices=("mean", "idf", "idf+max"), default=defaults.embedding
    )
    p_train.add_argument("--embedding-weight", type=float, default=defaults.embedding_weight)
    p_train.add_argument(
        "--lexicon-weight",
        type=float,
        default=defaults.lexicon_weight,
        help="weight of the hand-written topic lexicon features (0: none)",
    )
    p_train.add_argument(
        "--soft-lexicon",
        action=argparse.BooleanOptionalAction,
        default=defaults.soft_lexicon,
        help="lexicon: navec similarity to its entries as well as exact hits",
    )
    p_train.add_argument(
        "--dense-share",
        type=float,
        default=defaults.dense_share,
        help="share of the dense-only topic model (navec + lexicon) in the ensemble (0: SVM only)",
    )
    p_train.add_argument("--dense-c", type=float, default=defaults.dense_c)
    p_eval = sub.add_parser("evaluate", help="score the artefact on held-out files")
    p_eval.add_argument("files", type=Path, nargs="*")
    sub.add_parser("predict", help="JSON Lines in (id, text) -> JSON Lines out")
    p_bench = sub.add_parser("bench", help="throughput of the model on a corpus file")
    p_bench.add_argument("--file", type=Path, default=HOLDOUT_FILES[0])
    p_bench.add_argument("--limit", type=int, default=500, help="texts per run")
    p_bench.add_argument(
        "--broker",
        type=int,
        metavar="N",
        default=None,
        help="instead: N appeals through the whole service on the real Kafka and store",
    )
    args = parser.parse_args(argv)
    settings = ClassifySettings()
    if args.command in (None, "serve"):
        _serve(settings)
    elif args.command == "train":
        _train(settings, args)
    elif args.command == "evaluate":
        _evaluate(settings, args.files or list(HOLDOUT_FILES))
    elif args.command == "predict":
        predict_stream(settings, sys.stdin, sys.stdout)
    elif args.command == "bench" and args.broker:
        _bench_broker(settings, args.file, args.broker)
    elif args.command == "bench":
        _bench(settings, args.file, args.limit)


def _serve(settings: ClassifySettings) -> None:
    from veche_shared.service import serve

    from .app import create_app

    serve(create_app(settings), host=settings.http_host, port=settings.port)


def _train(settings: ClassifySettings, args: argparse.Namespace) -> None:
    examples = read_training(args.train or list(TRAIN_FILES), args.handwritten_weight)
    feedback: list[Example] = []
    if args.with_feedback:
        feedback = asyncio.run(_load_feedback(settings))
        err.print(f"operator corrections: {len(feedback)}")
    out = args.out or settings.model_path
    options = ModelOptions(
        embedding=args.embedding,
        embedding_weight=args.embedding_weight,
        lexicon_weight=args.lexicon_weight,
        soft_lexicon=args.soft_lexicon,
        dense_share=args.dense_share,
        dense_c=args.dense_c,
    )
    if args.cv is not None:
        with Progress(console=err, transient=False) as progress:
            scores = grouped_cv(
                examples + feedback,
                args.cv or [options.topic_c],
                progress,
                options,
                args.cv_urgency,
            )
        print(f"features: {options}")
        for key, score in scores.items():
            what = "urgency accuracy" if key == "urgency" else "topic macro-F1"
            what = "topic accuracy" if key.endswith("accuracy") else what
            rows = "its hand-written rows" if "hand-written" in key else "train"
            print(f"{key}: template-grouped CV {what} on {rows} {score:.4f}")
        return
    with Progress(console=err, transient=False) as progress:
        model = train(examples + feedback, progress, options)
    metrics = {}
    for path in args.holdout or list(HOLDOUT_FILES):
        metrics[path.name] = evaluate(model, read_jsonl(path))
    artefact.save(model, out, metadata(model, examples + feedback, len(feedback), metrics))
    err.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), version {model.version}")
    _print_report(metrics)


def _evaluate(settings: ClassifySettings, files: list[Path]) -> None:
    model = artefact.load(settings.model_path)
    err.print(f"model {model.version}")
    _print_report({path.name: evaluate(model, read_jsonl(path)) for path in files})


def _print_report(metrics: dict[str, dict[str, Any]]) -> None:
    out = Console()
    for name, m in metrics.items():
        out.print(
            f"[bold]{name}[/]: n={m['n']} accuracy={m['accuracy']:.3f} "
            f"macro-F1={m['macro_f1']:.3f} ECE={m['ece']:.3f} "
            f"urgency accuracy={m['urgency_accuracy']:.3f} "
            f"(model alone {m['urgency_accuracy_model']:.3f})"
        )
        table = Table("topic", "precision", "recall", "F1", "n")
        for topic, row in m["per_topic"].items():
            table.add_row(
                topic,
                f"{row['precision']:.2f}",
                f"{row['recall']:.2f}",
                f"{row['f1']:.2f}",
                str(row["support"]),
            )
        out.print(table)
        confusions = ", ".join(
            f"{c['truth']}→{c['predicted']} {c['count']}" for c in m["top_confusions"]
        )
        out.print(f"most frequent confusions: {confusions}")


async def _load_feedback(settings: ClassifySettings) -> list[Example]:
    from veche_shared.mongo import create_client

    from .storage import ClassifyStore

    client = create_client(settings)
    try:
        store = ClassifyStore(client, settings.database)
        return [Example(*row) for row in await store.feedback_examples()]
    finally:
        await client.close()


def _chunks(stream: TextIO, size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            err.print(f"line {number}: skipped ({type(exc).__name__}: {exc})")
            row = {"id": None, "text": "", "error": f"{type(exc).__name__}"}
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_stream(settings: ClassifySettings, stdin: TextIO, stdout: TextIO) -> int:
    """One output line per input line, in order; a bad line gets a line with an error."""
    model = artefact.load(settings.model_path)
    count = 0
    for batch in _chunks(stdin, PREDICT_BATCH):
        scored = model.score([row["text"] or " " for row in batch])
        for row, s in zip(batch, scored, strict=True):
            topic, confidence = s.topics[0]
            urgency, _ = apply_rules(Urgency(s.urgency[0][0]), normalise(row["text"]))
            out: dict[str, Any] = {
                "id": row.get("id"),
                "topic": topic,
                "urgency": urgency.value,
                "confidence": round(confidence, 4),
            }
            if "error" in row:
                out["error"] = row["error"]
            stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            count += 1
        stdout.flush()
    err.print(f"classified {count} lines with {model.version}")
    return count


def _bench_broker(settings: ClassifySettings, path: Path, count: int) -> None:
    from . import bench_service

    figures = asyncio.run(bench_service.run(settings, path, count))
    print(
        f"service on the broker: {figures['appeals']:.0f} appeals in {figures['seconds']:.1f} s, "
        f"{figures['appeals_per_s']:.0f} appeals/s, "
        f"{figures['cpu_ms_per_appeal']:.2f} CPU ms per appeal "
        f"(ner={settings.ner}, batch up to {settings.batch_max_records})"
    )


def _bench(settings: ClassifySettings, path: Path, limit: int) -> None:
    """CPU of the hot path (featurise, both classifiers, rules, flags, places; NER per
    ``VECHE_NER``), one appeal at a time and in batches of 100.

    The two runs use *different* texts, so neither profits from the word caches the other
    filled; both start after the same short warm-up (a running service has warm caches).
    """
    from veche_shared.testing.events import snapshot

    from .app import build_triage

    triage = build_triage(settings)
    texts = [e.text for e in read_jsonl(path)]
    half = min(limit, (len(texts) - 20) // 2)
    warm, singles, batched = texts[:20], texts[20 : 20 + half], texts[20 + half : 20 + 2 * half]
    triage.decide([snapshot(text=t) for t in warm])
    per_text = []
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for text in singles:
        t0 = time.process_time()
        triage.decide([snapshot(text=text)])
        per_text.append((time.process_time() - t0) * 1000)
    single_cpu, single_wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    appeals = [snapshot(text=t) for t in batched]
    cpu_start = time.process_time()
    for i in range(0, len(appeals), 100):
        triage.decide(appeals[i : i + 100])
    batch_cpu = time.process_time() - cpu_start
    quantiles = statistics.quantiles(per_text, n=20)
    print(f"model {triage.model.version}, NER {settings.ner}, texts from {path.name}")
    print(
        f"one at a time ({len(singles)} texts): {len(singles) / single_wall:.0f} texts/s wall, "
        f"CPU ms per text p50 {statistics.median(per_text):.2f} p95 {quantiles[18]:.2f} "
        f"mean {single_cpu * 1000 / len(singles):.2f}"
    )
    print(
        f"batches of 100 ({len(appeals)} other texts): {len(appeals) / batch_cpu:.0f} texts/s "
        f"CPU, {batch_cpu * 1000 / len(appeals):.2f} CPU ms per text"
    )
