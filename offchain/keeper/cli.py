"""Command line: `python -m offchain.keeper --config keeper.toml` (console entry point
`offchain.keeper.cli:main`; `ape run keeper --network ...` wraps it in scripts/keeper.py).

Flags override the file and the environment: --rpc-url, --db, --host, --port,
--deployment, --confirmations. SIGTERM / SIGINT stop the keeper gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .config import KeeperConfig, load_config
from .keys import Key
from .runtime import tune_gc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mmx-keeper", description="MMX keeper service")
    parser.add_argument("--config", "-c", default=os.environ.get("MMX_KEEPER_CONFIG"), help="TOML config file")
    parser.add_argument("--rpc-url")
    parser.add_argument("--db", help="journal URL (sqlite:///path or postgresql://...)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--deployment", help="deployment JSON with contract addresses")
    parser.add_argument("--confirmations", type=int)
    parser.add_argument("--log-level", default=os.environ.get("MMX_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, env: dict[str, str] | None = None) -> KeeperConfig:
    env = dict(os.environ if env is None else env)
    overrides = {"MMX_RPC_URL": args.rpc_url, "MMX_DB_URL": args.db, "MMX_API_HOST": args.host,
                 "MMX_API_PORT": args.port, "MMX_DEPLOYMENT": args.deployment,
                 "MMX_CONFIRMATIONS": args.confirmations}
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return load_config(args.config, env)


async def run(config: KeeperConfig, operator: Key | None = None, reporter: Key | None = None,
              ready_file: str | None = None) -> None:
    from .preflight import StartupError
    from .service import Keeper
    from .settlement import stall_at

    quiet_libraries()
    # MMX_TEST_CRASH_POINT=name:seconds (the SIGKILL test): the hook is built here, at the
    # process edge, and injected; Settlement reads no environment
    keeper = Keeper(config, operator=operator, reporter=reporter,
                    crash_point=stall_at(os.environ.get("MMX_TEST_CRASH_POINT", "")))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # a standby (PostgreSQL journal led by another keeper) waits inside start(): SIGTERM
    # then ends the wait cleanly
    starting = asyncio.create_task(keeper.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        print("keeper stopped (standby)", flush=True)
        return
    try:
        starting.result()
    except StartupError as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(2)
    tune_gc()  # after recovery: the recovered state goes to the permanent generation
    print(f"keeper listening on {keeper.url} (recovered {keeper.recovery})", flush=True)
    if ready_file:
        # whole or not at all (a reader takes the file's existence as "ready" and reads the
        # URL, whose port may be the OS's pick): written beside it, then renamed
        with open(ready_file + ".tmp", "w") as fh:
            fh.write(keeper.url)
        os.replace(ready_file + ".tmp", ready_file)
    waiter = asyncio.create_task(keeper.stopped.wait())
    await asyncio.wait([stopping, waiter], return_when=asyncio.FIRST_COMPLETED)
    if not keeper.stopped.is_set():
        await keeper.stop()
    print("keeper stopped", flush=True)


def quiet_libraries() -> None:
    """httpx logs every request at INFO (one line per RPC call: megabytes an hour); the
    keeper's own INFO lines are what an operator wants to see."""
    for name in ("httpx", "httpcore", "web3", "urllib3", "websockets", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    quiet_libraries()
    try:
        config = build_config(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(2)
    asyncio.run(run(config, ready_file=os.environ.get("MMX_READY_FILE")))


if __name__ == "__main__":
    main()
