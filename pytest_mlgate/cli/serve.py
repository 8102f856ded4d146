"""``mlgate serve``: a verified artefact answering HTTP requests (docs/serving.md), and
``mlgate container``: the build context and Kubernetes manifests that serve it
(docs/container.md)."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.defaults import DEFAULT_REGISTRY


def register(subparsers: Any) -> None:
    help_ = ("Serve a verified artefact over HTTP: GET /ping, /health, /metadata and "
             "POST /invocations.")
    p: argparse.ArgumentParser = subparsers.add_parser("serve", help=help_, description=help_)
    p.add_argument("ref", metavar="REF", help="name, name@alias, name@VERSION, a path, or models:/NAME@ALIAS")
    p.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="PATH",
                   help=f"registry directory (default {DEFAULT_REGISTRY}), or mlflow:<tracking URI>")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: a free port, "
                   "named in the line printed when the server is ready)")
    p.add_argument("--trusted", action="extend", nargs="+", default=None, metavar="T",
                   help="skops types to trust beyond skops' defaults, or joblib / pickle for "
                   "such artefacts (as load(trusted=...)); give REF before it")
    p.add_argument("--log-predictions", metavar="PATH", default=None,
                   help="append each answered request (inputs, outputs, latency, request id, "
                   "time) to PATH as a JSON line")
    p.set_defaults(func=cmd_serve)

    help_ = ("Write a container build context (Containerfile, requirements.txt, artifact/) and "
             "kubernetes.yaml that serve a verified artefact.")
    p = subparsers.add_parser("container", help=help_, description=help_)
    p.add_argument("ref", metavar="REF", help="name, name@alias, name@VERSION, a path, or models:/NAME@ALIAS")
    p.add_argument("outdir", metavar="OUTDIR", help="a new (or empty) directory")
    p.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="PATH",
                   help=f"registry directory (default {DEFAULT_REGISTRY}), or mlflow:<tracking URI>")
    p.add_argument("--base-image", default=None, metavar="IMAGE",
                   help="base image (default python:X.Y-slim, the artefact's Python version)")
    p.add_argument("--build", default=None, metavar="TAG",
                   help="also build the image as TAG with docker, podman or buildah")
    p.add_argument("--trusted", action="extend", nargs="+", default=None, metavar="T",
                   help="types the server trusts (default: those recorded in the artefact, "
                   "which you review with mlgate show); give REF and OUTDIR before it")
    p.set_defaults(func=cmd_container)


def cmd_serve(args: argparse.Namespace) -> int:
    from pytest_mlgate.serve.server import serve

    return serve(args.ref, registry=args.registry, host=args.host, port=args.port,
                 trusted=args.trusted, log_predictions=args.log_predictions)


def cmd_container(args: argparse.Namespace) -> int:
    from pytest_mlgate.container import build, builder, write_context

    if args.build is not None:
        builder()  # no builder: say so before writing anything
    ctx = write_context(args.ref, args.outdir, registry=args.registry,
                        base_image=args.base_image, tag=args.build, trusted=args.trusted)
    print(f"wrote {ctx.path}: Containerfile (FROM {ctx.base_image}), requirements.txt, "
          f"artifact/ ({ctx.artifact_id[:19]}), kubernetes.yaml (image {ctx.image}, memory "
          f"request {ctx.memory_mib}Mi"
          + (f" from rss_peak_mb {ctx.rss_peak_mb:.0f})" if ctx.rss_peak_mb is not None
             else ", no rss_peak_mb recorded)"))
    for name in ctx.unpinned:
        print(f"mlgate: note: {name} is not in the artefact's recorded environment; "
              "requirements.txt pins this machine's version")
    if args.build is not None:
        build(ctx, args.build)
        print(f"built {args.build}")
    return 0
