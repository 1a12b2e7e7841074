"""Operator, reporter and agent keys from key specs, never from code or the config file.

A key spec is one of
- ``env:NAME``                        the hex private key in environment variable NAME;
- ``keyfile:PATH``                    an encrypted JSON keystore (Ape's ~/.ape/accounts/*.json
                                      are such files); passphrase from MMX_KEY_PASSPHRASE, or
                                      ``keyfile:PATH?passphrase_env=NAME``;
- ``ape:ALIAS``                       the Ape account ALIAS (~/.ape/accounts/ALIAS.json), same
                                      passphrase rules as keyfile.
scripts/keeper.py can also hand over a key it got from Ape directly (test accounts).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from offchain.order import address_of


@dataclass(frozen=True, slots=True)
class Key:
    address: str
    private_key: str = ""  # 0x-hex; kept out of repr

    def __repr__(self) -> str:
        return f"Key({self.address})"


def _passphrase(options: dict[str, str], env: Mapping[str, str]) -> str:
    name = options.get("passphrase_env", "MMX_KEY_PASSPHRASE")
    if name not in env:
        raise KeyError(f"key file passphrase: set {name}")
    return env[name]


def load_key(spec: str, env: Mapping[str, str] | None = None) -> Key:
    env = os.environ if env is None else env
    kind, _, rest = spec.partition(":")
    path_part, _, query = rest.partition("?")
    options = dict(item.split("=", 1) for item in query.split("&") if "=" in item)
    if kind == "env":
        if path_part not in env or not env[path_part]:
            raise KeyError(f"key spec {spec!r}: environment variable {path_part} is not set")
        private_key = env[path_part].strip()
    elif kind in ("keyfile", "ape"):
        path = (
            Path(path_part).expanduser()
            if kind == "keyfile"
            else Path(env.get("APE_DATA_FOLDER", "~/.ape")).expanduser() / "accounts" / f"{path_part}.json"
        )
        from eth_account import Account

        keystore = json.loads(path.read_text())
        private_key = Account.decrypt(keystore, _passphrase(options, env)).hex()
    else:
        raise ValueError(f"unknown key spec {spec!r} (use env:, keyfile: or ape:)")
    if not private_key.startswith("0x"):
        private_key = "0x" + private_key
    return Key(address=address_of(private_key), private_key=private_key)
