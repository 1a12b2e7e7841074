import asyncio

import pytest

from offchain.keeper.config import load_config
from offchain.keeper.keys import load_key
from offchain.keeper.oracle_feed import CsvReplaySource, RandomWalkSource

from .helpers import ADDR, KEYS


def test_config__file_then_env_override(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[chain]\nrpc_url = "http://x:1"\nconfirmations = 3\n[api]\nport = 9000\n'
                    '[settlement]\nmax_fills = 32\n[contracts]\nexchange = "0xabc"\n')
    cfg = load_config(path, {"MMX_API_PORT": "9100", "MMX_DB_URL": "sqlite:///z.db"})
    assert cfg.chain.rpc_url == "http://x:1" and cfg.chain.confirmations == 3
    assert cfg.api.port == 9100 and cfg.journal.url == "sqlite:///z.db"
    assert cfg.settlement.max_fills == 32 and cfg.contracts.exchange == "0xabc"


def test_config__deployment_json_names_mapped(tmp_path):
    (tmp_path / "d.json").write_text('{"exchange": "0x1", "rebate_engine": "0x2", "vault_factory": "0x3"}')
    cfg = load_config(None, {"MMX_DEPLOYMENT": str(tmp_path / "d.json")})
    assert (cfg.contracts.exchange, cfg.contracts.rebate, cfg.contracts.factory) == ("0x1", "0x2", "0x3")


def test_config__unknown_key_or_too_many_fills__error(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text("[api]\nprot = 1\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_config(path, {})
    with pytest.raises(ValueError, match="1..64"):
        load_config(None, {"MMX_BATCH_MAX_FILLS": "65"})


def test_config__gas_limit_per_fill_from_env():
    assert load_config(None, {}).chain.gas_limit_per_fill == 400_000
    assert load_config(None, {"MMX_GAS_LIMIT_PER_FILL": "200000"}).chain.gas_limit_per_fill == 200_000


def test_keys__env_and_keyfile_specs(tmp_path):
    from eth_account import Account

    assert load_key("env:K", {"K": KEYS[0]}).address == ADDR[0]
    keystore = tmp_path / "a.json"
    import json

    keystore.write_text(json.dumps(Account.encrypt(KEYS[1], "pw")))
    assert load_key(f"keyfile:{keystore}", {"MMX_KEY_PASSPHRASE": "pw"}).address == ADDR[1]
    with pytest.raises(KeyError):
        load_key("env:MISSING", {})
    assert "0x" not in repr(load_key("env:K", {"K": KEYS[0]})).replace(ADDR[0], "")


def test_random_walk__seeded__reproducible_and_on_tick():
    a = RandomWalkSource({1: 2_000_000_000}, seed=3, max_step_bps=50, ticks={1: 10_000})
    b = RandomWalkSource({1: 2_000_000_000}, seed=3, max_step_bps=50, ticks={1: 10_000})
    xs = [a.step()[1] for _ in range(50)]
    assert xs == [b.step()[1] for _ in range(50)]
    assert all(x % 10_000 == 0 for x in xs)
    assert all(abs(y - x) * 10_000 <= 50 * x + 10_000 * 10_000 for x, y in zip(xs, xs[1:]))


def test_csv_replay__rounds_by_timestamp(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("ts,market,price\n1,1,100\n1,2,200\n2,1,101\n")
    src = CsvReplaySource(path)
    rounds = [asyncio.run(src.prices()) for _ in range(3)]
    assert rounds == [{1: 100, 2: 200}, {1: 101}, {}]
