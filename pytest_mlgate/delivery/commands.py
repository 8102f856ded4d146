"""``mlgate list | show | verify | promote | diff``: the registry from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.delivery.registry import DEFAULT_REGISTRY, LocalRegistry, parse_ref, resolve_ref
from pytest_mlgate.errors import VerificationError
from pytest_mlgate.report.tables import fmt, fmt_interval, render


def register(subparsers: Any) -> None:
    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(name, help=help_, description=help_)
        p.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="PATH",
                       help=f"registry directory (default {DEFAULT_REGISTRY})")
        return p

    p = add("list", "List the models in the registry with their versions and aliases.")
    p.set_defaults(func=cmd_list)
    p = add("show", "Show one artefact: manifest, gates and metrics.")
    p.add_argument("ref", metavar="NAME[@ref]|PATH")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=cmd_show)
    p = add("verify", "Check every file of an artefact against its manifest (exit 1 if not).")
    p.add_argument("ref", metavar="PATH|REF")
    p.set_defaults(func=cmd_verify)
    p = add("promote", "Point an alias of a model at one of its versions.")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--alias", required=True)
    p.set_defaults(func=cmd_promote)
    p = add("diff", "Compare the metrics of two artefacts side by side.")
    p.add_argument("a", metavar="REF")
    p.add_argument("b", metavar="REF")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=cmd_diff)


def cmd_list(args: argparse.Namespace) -> int:
    reg = LocalRegistry(args.registry)
    names = reg.names()
    if not names:
        print(f"no models in {reg.root}")
        return 0
    rows = []
    for name in names:
        versions = reg.versions(name)
        aliases = reg.aliases(name)
        rows.append([name, str(len(versions)), str(versions[-1]),
                     ", ".join(f"{a}->{v}" for a, v in sorted(aliases.items())) or "-"])
    print(render(["name", "versions", "newest", "aliases"], rows))
    return 0


def _label(ref: str, path: Path) -> str:
    return ref if ("/" in ref or not path.name.isdigit()) else f"{parse_ref(ref)[0]}@{path.name}"


def cmd_show(args: argparse.Namespace) -> int:
    from pytest_mlgate.delivery.verify import read_manifest

    path = resolve_ref(args.ref, args.registry)
    manifest = read_manifest(path)
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    git = manifest.get("git") or {}
    print(f"{_label(args.ref, path)}  ({path})")
    print(f"  artifact id  {manifest['artifact_id']}")
    print(f"  created      {manifest.get('created', '?')}")
    print(f"  format       {manifest.get('format', '?')}")
    print(f"  trusted      {_trusted_line(manifest.get('model'))}")
    dirty = " (dirty)" if git.get("dirty") else ""
    print(f"  commit       {git.get('commit') or 'unknown'}{dirty}")
    print(f"  files        {len(manifest['files'])}, "
          f"{sum(int(e['size']) for e in manifest['files'].values())} bytes")
    for role, d in (manifest.get("data") or {}).items():
        print(f"  data {role:<8}{'x'.join(map(str, d.get('shape') or []))} {d.get('fingerprint')}")
    run = _run(path)
    gates = run.get("gates") or {}
    if gates:
        print()
        print(render(["gate", "verdict"], [[g, str(v.get("verdict"))] for g, v in gates.items()]))
    metrics = _metrics(run)
    if metrics:
        print()
        print(render(["metric", "value", "interval", "verdict"],
                     [[k, fmt(m.get("value")), fmt_interval(m.get("low"), m.get("high")),
                       str(m.get("verdict") or "-")] for k, m in metrics.items()]))
    return 0


def _trusted_line(model_info: Any) -> str:
    """What ``load`` will ask the consumer to trust, for them to review (never applied)."""
    from pytest_mlgate.delivery.card import trusted_for_load

    trusted = trusted_for_load(model_info)
    if trusted is None:
        return "not recorded (load() names the types it refuses, if any)"
    if not trusted:
        return "none needed (every type is within skops' defaults)"
    note = ("runs code from the file when loaded" if trusted[0] in ("joblib", "pickle")
            else "recorded at staging; review before loading, never applied for you")
    return f"load(..., trusted={trusted!r})  # {note}"


def cmd_verify(args: argparse.Namespace) -> int:
    from pytest_mlgate.delivery.verify import verify_artifact

    path = resolve_ref(args.ref, args.registry)
    try:
        manifest = verify_artifact(path)
    except VerificationError as exc:
        print(f"FAILED {exc}")
        return 1
    print(f"OK {path}: {len(manifest['files'])} files match {manifest['artifact_id']}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    reg = LocalRegistry(args.registry)
    reg.promote(args.name, args.version, args.alias)
    print(f"{args.name}@{args.alias} -> version {args.version}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    pa, pb = resolve_ref(args.a, args.registry), resolve_ref(args.b, args.registry)
    ma, mb = _metrics(_run(pa)), _metrics(_run(pb))
    la, lb = _label(args.a, pa), _label(args.b, pb)
    rows = []
    for key in list(ma) + [k for k in mb if k not in ma]:
        a, b = ma.get(key), mb.get(key)
        va = a.get("value") if a else None
        vb = b.get("value") if b else None
        change = (fmt(vb - va) if isinstance(va, (int, float)) and isinstance(vb, (int, float))
                  else "-")
        rows.append([key, _cell(a), _cell(b), change])
    if not rows:
        print(f"no metrics recorded in {la} or {lb}")
        return 0
    print(render(["metric", la, lb, "change"], rows, markdown=args.markdown))
    return 0


def _cell(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return "-"
    interval = fmt_interval(m.get("low"), m.get("high"))
    return fmt(m.get("value")) + ("" if interval == "-" else f" {interval}")


def _run(path: Path) -> dict[str, Any]:
    try:
        run = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return run if isinstance(run, dict) else {}


def _metrics(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Metric rows keyed by ``name`` (or ``name [test]`` when several tests record one name)."""
    from pytest_mlgate.delivery.card import metric_rows

    rows = metric_rows(run)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        test = r["test"].rsplit("::", 1)[-1]
        key = r["name"] if counts[r["name"]] == 1 else f"{r['name']} [{test}]"
        out[key] = r
    return out
