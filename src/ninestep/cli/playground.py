"""``ninestep playground``: a local web page that trains the real network while you watch.

Needs the optional extra: ``pip install 'ninestep[playground]'`` (Starlette
and uvicorn). The server listens on 127.0.0.1 unless ``--host`` says
otherwise: the page can start training runs on this machine, so it is not
offered to the network without being asked.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import webbrowser

from ._common import EXIT_OK, Out, UsageError

DEFAULT_PORT = 8765


def register(sub, common) -> None:
    """Add ``playground`` and its options to the subparsers ``sub``."""
    p = sub.add_parser("playground", parents=[common],
                       help="open a web page that trains the network live (needs ninestep[playground])")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; anything else warns)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(run=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args, out: Out) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be from 1 to 65535, got {args.port}.")
    try:
        import uvicorn

        from ..playground.server import create_app
    except ImportError as exc:
        raise ImportError(f"the playground needs Starlette and uvicorn ({exc}); "
                          "pip install 'ninestep[playground]'.") from None
    if not _is_loopback(args.host):
        print(f"warning: --host {args.host} lets other machines on the network open the playground and start "
              "training runs on this one; use it only on a network you trust.", file=sys.stderr, flush=True)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{f'[{host}]' if ':' in host else host}:{args.port}/"  # an IPv6 address goes in brackets
    out(f"ninestep playground: {url}  (Ctrl-C stops it)")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()  # once uvicorn is listening
    # Listening on this machine only, answer only to its own names (see create_app).
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]"] if _is_loopback(args.host) else None
    config = uvicorn.Config(create_app(allowed_hosts=hosts), host=args.host, port=args.port,
                            log_level="warning" if not args.quiet else "error")
    server = uvicorn.Server(config)
    try:
        server.run()
    except (OSError, SystemExit):  # uvicorn logs a failed bind and exits
        raise OSError(f"cannot listen on {args.host}:{args.port} (is the port in use?); "
                      "choose another --port.") from None
    return EXIT_OK
