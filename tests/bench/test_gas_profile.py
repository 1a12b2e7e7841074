"""bench/bench_gas_profile.py's opcode classifier on hand-written struct logs: every gas
unit a trace spends lands in exactly one class, a call is charged what it used (not the
gas it forwarded), an external call is charged whole, a DELEGATECALL's steps by class."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def prof():
    cwd = os.getcwd()  # the script changes to the repository root when loaded
    sys.path.insert(0, str(BENCH))  # the script imports its sibling ape_stack
    try:
        spec = importlib.util.spec_from_file_location("bench_gas_profile", BENCH / "bench_gas_profile.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
        os.chdir(cwd)
    return module


def step(op, gas, cost, depth=1, refund=0):
    return {"op": op, "gas": gas, "gasCost": cost, "depth": depth, "refund": refund}


def test_op_class__eip2929_prices__cold_warm_fresh_and_dirty_told_apart(prof):
    assert prof.op_class("SLOAD", 2_100) == "sload_cold"
    assert prof.op_class("SLOAD", 100) == "sload_warm"
    assert prof.op_class("SSTORE", 22_100) == prof.op_class("SSTORE", 20_000) == "sstore_fresh"
    assert prof.op_class("SSTORE", 5_000) == prof.op_class("SSTORE", 2_900) == "sstore_first_write"
    assert prof.op_class("SSTORE", 2_200) == prof.op_class("SSTORE", 100) == "sstore_dirty"
    assert prof.op_class("LOG3", 1_756) == "log"
    assert prof.op_class("CALLDATALOAD", 3) == "calldata_copy"
    assert prof.op_class("MCOPY", 9) == "memory"
    assert prof.op_class("ADD", 3) == "other"


def test_profile_steps__precompile_call__charged_what_it_used_to_ecrecover(prof):
    # the STATICCALL's gasCost is the forwarded gas; the next step at the same depth shows
    # 3,100 gone (100 warm call + 3,000 ecrecover)
    steps = [step("STATICCALL", 100_000, 98_000), step("MLOAD", 96_900, 3), step("STOP", 96_897, 0)]
    profile, refund = prof.profile_steps(steps)
    assert profile.gas == {"ecrecover": 3_100, "memory": 3, "other": 0}
    assert profile.ops["ecrecover"] == 1 and refund == 0


def test_profile_steps__external_call__whole_call_to_calls_not_its_steps(prof):
    steps = [
        step("STATICCALL", 100_000, 90_000),
        step("SLOAD", 97_000, 2_100, depth=2),  # the callee's (the oracle's) own storage
        step("RETURN", 94_900, 0, depth=2),
        step("SSTORE", 94_800, 2_900),
        step("STOP", 91_900, 0),
    ]
    profile, _ = prof.profile_steps(steps)
    assert profile.gas == {"calls": 5_200, "sstore_first_write": 2_900, "other": 0}
    assert "sload_cold" not in profile.gas


def test_profile_steps__delegatecall__steps_by_class_overhead_to_calls(prof):
    steps = [
        step("DELEGATECALL", 100_000, 90_000),
        step("SLOAD", 99_000, 2_100, depth=2),  # the Exchange's storage, through its engine
        step("STATICCALL", 96_900, 50_000, depth=2),  # a precompile inside the engine
        step("SSTORE", 93_800, 20_000, depth=2, refund=4_800),
        step("RETURN", 73_800, 0, depth=2, refund=4_800),
        step("STOP", 73_700, 0, refund=4_800),
    ]
    profile, refund = prof.profile_steps(steps)
    assert profile.gas == {"sload_cold": 2_100, "ecrecover": 3_100, "sstore_fresh": 20_000,
                           "other": 0, "calls": 1_100}
    # every unit between the first step and the last is in one class
    assert sum(profile.gas.values()) == 100_000 - 73_700
    assert refund == 4_800


def test_profile_steps__external_call_inside_delegatecall__charged_once(prof):
    steps = [
        step("DELEGATECALL", 100_000, 90_000),
        step("STATICCALL", 99_000, 80_000, depth=2),
        step("SLOAD", 96_000, 2_100, depth=3),
        step("STOP", 93_900, 0, depth=3),
        step("ADD", 93_800, 3, depth=2),
        step("RETURN", 93_797, 0, depth=2),
        step("STOP", 93_697, 0),
    ]
    profile, _ = prof.profile_steps(steps)
    # the external call whole (5,200) + the DELEGATECALL's own overhead (6,303 used - 5,203 inside)
    assert profile.gas["calls"] == 5_200 + 1_100 and profile.gas["other"] == 3
    assert sum(profile.gas.values()) == 100_000 - 93_697
    assert "sload_cold" not in profile.gas


def test_profile_steps__trace_ends_inside_a_call__refused(prof):
    with pytest.raises(ValueError, match="inside a call"):
        prof.profile_steps([step("CALL", 100_000, 90_000), step("SLOAD", 97_000, 2_100, depth=2)])


def test_calldata_gas__eip2028_prices(prof):
    assert prof.calldata_gas(bytes([0, 0, 1, 255])) == 4 + 4 + 16 + 16
