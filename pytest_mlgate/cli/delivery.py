"""``mlgate list | show | verify | promote | diff | keygen``: the registry from the command line.

``show`` and ``diff`` verify an artefact (files, pinned id) before printing anything from it,
and print what they verified: a tampered ``run.json`` is an error, never a table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from pytest_mlgate.defaults import DEFAULT_REGISTRY
from pytest_mlgate.delivery.mlflow_registry import MlflowRegistry
from pytest_mlgate.delivery.registries import locate_ref, open_registry
from pytest_mlgate.delivery.registry import LocalRegistry, Located, open_verified
from pytest_mlgate.delivery.registry_uri import is_mlflow
from pytest_mlgate.errors import MlgateError, VerificationError
from pytest_mlgate.report.tables import change_between, fmt, fmt_interval, render
from pytest_mlgate.stats.known_metrics import is_performance_reading
from pytest_mlgate.strict_json import dumps

RUN_FILE = "run.json"


def register(subparsers: Any) -> None:
    def add(name: str, help_: str, registry: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(name, help=help_, description=help_)
        if registry:
            p.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="PATH",
                           help=f"registry directory (default {DEFAULT_REGISTRY}), or "
                           "mlflow:<tracking URI>")
        return p

    p = add("list", "List the models in the registry with their versions and aliases.")
    p.set_defaults(func=cmd_list)
    p = add("show", "Verify one artefact, then show its manifest, gates and metrics.")
    p.add_argument("ref", metavar="NAME[@ref]|PATH")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=cmd_show)
    p = add("verify", "Check every file of an artefact against its manifest and the id the "
            "registry pinned (exit 1 if not).")
    p.add_argument("ref", metavar="PATH|REF")
    p.add_argument("--public-key", metavar="PATH", default=None,
                   help="also require a valid signature (manifest.sig) by this Ed25519 public "
                   "key (PEM, as written by `mlgate keygen`)")
    p.set_defaults(func=cmd_verify)
    p = add("promote", "Point an alias of a model at one of its versions.")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--alias", required=True)
    p.set_defaults(func=cmd_promote)
    p = add("diff", "Verify two artefacts and compare their metrics side by side.")
    p.add_argument("a", metavar="REF")
    p.add_argument("b", metavar="REF")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=cmd_diff)
    p = add("keygen", "Write an Ed25519 key pair for signing artefacts: PATH (private key, "
            "PKCS#8 PEM, mode 0600) and PATH.pub (public key).", registry=False)
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=cmd_keygen)


def cmd_list(args: argparse.Namespace) -> int:
    if is_mlflow(args.registry):
        return _list_mlflow(MlflowRegistry(args.registry))
    reg = LocalRegistry(args.registry)
    names = reg.names()
    if not names:
        print(f"no models in {reg.root}")
        return 0
    rows = []
    problems: list[str] = []
    for name in names:
        try:
            state = reg.state(name)
        except MlgateError as exc:
            problems.append(str(exc))
            continue
        problems += state.problems
        unpinned = [v for v in state.versions if v not in state.pins]
        if unpinned:
            problems.append(f"{name}: version(s) {', '.join(map(str, unpinned))} have no publish "
                            f"record in {state.dir / 'history.jsonl'} and are not loaded, by "
                            "number, path or alias")
        if state.torn is not None:
            problems.append(state.torn)
        for token, journal in sorted(state.pending.items()):
            problems.append(f"{name}: operation {token} is recorded in the history but not "
                            f"finished (its journal is {journal}): a process is finishing it, "
                            "or it died and the next publish or promote on this registry "
                            "finishes it; aliases are shown as the history records them")
        # Aliases as loading resolves them: a refused alias is shown as refused, with why.
        good, refused = state.resolved_aliases()
        problems += [why for a, why in refused.items() if a not in state.bad_aliases]
        shown = {**{a: str(v) for a, v in good.items()}, **{a: "refused" for a in refused}}
        published = state.published
        rows.append([name, str(len(published)), str(published[-1]) if published else "-",
                     ", ".join(f"{a}->{v}" for a, v in sorted(shown.items())) or "-"])
    if rows:
        print(render(["name", "versions", "newest", "aliases"], rows))
    for problem in problems:
        print(f"mlgate: warning: {problem}", file=sys.stderr)
    return 0


def _list_mlflow(reg: MlflowRegistry) -> int:
    """The registered models with their pytest-mlgate versions and aliases; orphans (a publish
    that did not complete) are named on stderr."""
    names = reg.names()
    if not names:
        print(f"no models in {reg.uri}")
        return 0
    rows = []
    for name in names:
        committed = [int(v.version) for v in reg.committed(name)]
        orphans = reg.orphans(name)
        if orphans:
            print(f"mlgate: warning: {name}: version(s) {', '.join(map(str, orphans))} are "
                  "orphans (registered, publish not completed) and are not loaded; delete them",
                  file=sys.stderr)
        aliases = reg.aliases(name)
        rows.append([name, str(len(committed)), str(committed[-1]) if committed else "-",
                     ", ".join(f"{a}->{v}" for a, v in aliases.items()) or "-"])
    print(render(["name", "versions", "newest", "aliases"], rows))
    return 0


def _label(located: Located) -> str:
    if located.name is not None and located.version is not None:
        return f"{located.name}@{located.version}"
    return located.label


def _typed(ref: str, located: Located) -> str:
    """A column header: the reference as typed, with the version it resolved to when the
    reference does not say it (``churn@production (v3)``)."""
    label = _label(located)
    return ref if label == ref or located.version is None else f"{ref} (v{located.version})"


def _open(ref: str, registry: str, read: tuple[str, ...] = ()) -> tuple[Located, Any]:
    located = locate_ref(ref, registry)
    return located, open_verified(located, read=read)


def cmd_show(args: argparse.Namespace) -> int:
    located, verified = _open(args.ref, args.registry, (RUN_FILE,) if _has_run(args) else ())
    manifest = verified.manifest
    if args.json:
        print(dumps(manifest))
        return 0
    git = manifest.get("git") if isinstance(manifest.get("git"), dict) else {}
    print(f"{_label(located)}  ({located.path})")
    print(f"  artifact id  {manifest['artifact_id']}"
          + ("  (matches the registry's pin)" if located.pin is not None else ""))
    print(f"  signed       {_signed(verified)}")
    print(f"  created      {_text(manifest.get('created'))}")
    print(f"  format       {_text(manifest.get('format'))}")
    print(f"  trusted      {_trusted_line(manifest.get('model'))}")
    dirty = " (dirty)" if git.get("dirty") is True else ""
    print(f"  commit       {_text(git.get('commit'), 'unknown')}{dirty}")
    print(f"  files        {len(manifest['files'])}, "
          f"{sum(e['size'] for e in manifest['files'].values())} bytes")
    data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    for role, d in data.items():
        if isinstance(d, dict):
            shape: list[Any] = d["shape"] if isinstance(d.get("shape"), list) else []
            print(f"  data {role:<8}{'x'.join(map(str, shape))} {_text(d.get('fingerprint'))}")
    run = _run(located, verified)
    gates = run.get("gates") if isinstance(run.get("gates"), dict) else {}
    if gates:
        print()
        print(render(["gate", "verdict"],
                     [[str(g), _text(v.get("verdict") if isinstance(v, dict) else None)]
                      for g, v in gates.items()]))
    metrics = _metrics(run)
    if metrics:
        print()
        print(render(["metric", "value", "interval", "verdict"],
                     [[k, fmt(m["value"]), fmt_interval(m["low"], m["high"]),
                       _text(m.get("verdict"), "-")] for k, m in metrics.items()]))
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


def _has_run(args: argparse.Namespace) -> bool:
    return not args.json


def _signed(verified: Any) -> str:
    if not verified.signed:
        return "no"
    return f"yes, key {verified.key_id or '?'} (not checked: `mlgate verify --public-key PATH`)"


def cmd_verify(args: argparse.Namespace) -> int:
    from pytest_mlgate.delivery.signing import load_public_key

    key = None if args.public_key is None else load_public_key(args.public_key)
    located = locate_ref(args.ref, args.registry)
    try:
        verified = open_verified(located, public_key=key)
    except VerificationError as exc:
        print(f"FAILED {exc}")
        return 1
    pinned = " (the id the registry pinned)" if located.pin is not None else ""
    signed = ("; signature valid for the public key given" if key is not None
              else "; signed, signature not checked (pass --public-key)" if verified.signed
              else "")
    print(f"OK {located.path}: {len(verified.manifest['files'])} files match "
          f"{verified.artifact_id}{pinned}{signed}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    reg = open_registry(args.registry)
    reg.promote(args.name, args.version, args.alias)
    print(f"{args.name}@{args.alias} -> version {args.version}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    la_, va = _open(args.a, args.registry, (RUN_FILE,))
    lb_, vb = _open(args.b, args.registry, (RUN_FILE,))
    ma, mb = _metrics(_run(la_, va)), _metrics(_run(lb_, vb))
    la, lb = _typed(args.a, la_), _typed(args.b, lb_)
    rows = []
    for key in list(ma) + [k for k in mb if k not in ma]:
        a, b = ma.get(key), mb.get(key)
        x = a["value"] if a else None
        y = b["value"] if b else None
        performance = is_performance_reading(str((a or b or {}).get("name")), (a or b or {}).get("method"))
        rows.append([key, _cell(a), _cell(b), change_between(x, y, performance=performance)])
    if not rows:
        print(f"no metrics recorded in {la} or {lb}")
        return 0
    print(render(["metric", la, lb, "change"], rows, markdown=args.markdown))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from pytest_mlgate.delivery.signing import generate_key_pair, key_id, load_public_key

    private, public = generate_key_pair(args.path)
    print(f"wrote {private} (private key: keep it secret, e.g. in your CI's secret store) and "
          f"{public} (public key: give it to whoever loads or verifies the artefacts)")
    print(f"key id {key_id(load_public_key(public))}")
    return 0


def _cell(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return "-"
    interval = fmt_interval(m["low"], m["high"])
    return fmt(m["value"]) + ("" if interval == "-" else f" {interval}")


def _text(x: Any, missing: str = "?") -> str:
    if x is None:
        return missing
    return str(x)[:200] if isinstance(x, (str, int, float, bool)) else missing


def _run(located: Located, verified: Any) -> dict[str, Any]:
    """The verified run report, parsed; VerificationError when it is not a JSON object."""
    from pytest_mlgate.strict_json import loads as loads_strict

    data = verified.files.get(RUN_FILE)
    if data is None:
        return {}
    try:
        run = loads_strict(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise VerificationError(f"{located.path}: {RUN_FILE} matches the manifest but is not a "
                                f"readable run report ({str(exc)[:200] or 'nested too deeply'}); "
                                "it was published broken: re-publish the model.") from None
    if not isinstance(run, dict):
        raise VerificationError(f"{located.path}: {RUN_FILE} matches the manifest but is not a "
                                "run report (a JSON object); re-publish the model.")
    return run


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        return float(x)
    except OverflowError:  # an integer beyond any float
        return None


def _metrics(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Metric rows keyed by ``name`` (or ``name [test]`` when several tests record one name);
    values that are not numbers show as missing."""
    from pytest_mlgate.delivery.card import metric_rows

    rows = metric_rows(run)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        test = r["test"].rsplit("::", 1)[-1]
        key = r["name"] if counts[r["name"]] == 1 else f"{r['name']} [{test}]"
        out[key] = {**r, "value": _number(r.get("value")), "low": _number(r.get("low")),
                    "high": _number(r.get("high"))}
    return out
