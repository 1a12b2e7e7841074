// Exact amounts, dates and sentences. Money stays in bigint units; floats only for ratios.
import { formatUnits, parseUnits } from "ethers";
import REASONS from "../../client/reasons.json";

export const USDC_DECIMALS = 6;
export const SHARE_DECIMALS = 12; // the pool's LP token
export const BPS = 10000n;

export function usdc(units) {
  const text = formatUnits(units, USDC_DECIMALS);
  const [whole, frac = ""] = text.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}.${frac.padEnd(6, "0").slice(0, 6)}`;
}

export function units(text, decimals, what = "amount") {
  const clean = String(text).trim().replaceAll(",", "");
  if (!/^\d+(\.\d+)?$/.test(clean)) throw new InputError(`Enter the ${what} as a number, like 100 or 12.5.`);
  const frac = clean.split(".")[1] || "";
  if (frac.length > decimals) throw new InputError(`The ${what} can have at most ${decimals} decimals.`);
  const value = parseUnits(clean, decimals);
  if (value <= 0n) throw new InputError(`The ${what} must be more than zero.`);
  return value;
}

export function shares(raw, decimals = SHARE_DECIMALS) {
  const text = formatUnits(raw, decimals);
  const [whole, frac = ""] = text.split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${frac.padEnd(4, "0").slice(0, 4)}`;
}

export function date(seconds) {
  const s = Number(seconds);
  if (!s) return "—";
  return new Date(s * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function duration(seconds) {
  const s = Number(seconds);
  if (s % 86400 === 0 && s >= 86400) return `${s / 86400} day${s === 86400 ? "" : "s"}`;
  if (s % 3600 === 0 && s >= 3600) return `${s / 3600} hour${s === 3600 ? "" : "s"}`;
  return `${s} s`;
}

export const pct = (bps) => `${(Number(bps) / 100).toLocaleString("en", { maximumFractionDigits: 2 })}%`;
export const ratio = (x) => (x === null || x === undefined || !isFinite(x) ? "—" : `${(x * 100).toFixed(2)}%`);
export const short = (a) => (a ? `${a.slice(0, 6)}…${a.slice(-4)}` : "");

export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export class InputError extends Error {}

export function sentenceFor(reason) {
  if (!reason) return "The transaction was refused without a reason.";
  return REASONS[reason] || `The transaction was refused: ${reason}.`;
}

function rejected(err) {
  for (let e = err, i = 0; e && i < 5; e = e.error || e.info?.error || e.cause, i++) {
    if (e.code === 4001 || e.code === "ACTION_REJECTED") return true;
  }
  return false;
}

// Any error from the wallet, ethers or our own checks as one sentence a person understands.
export function explain(err) {
  if (err instanceof InputError) return err.message;
  if (rejected(err)) return "You declined the request in your wallet; nothing was sent.";
  const reason = err?.reason || err?.revert?.args?.[0];
  if (reason) return sentenceFor(reason);
  const text = err?.shortMessage || err?.message || String(err);
  const m = /reverted(?: with reason string)?:? ['"]?([a-z0-9]+: [^'"]+)/i.exec(text);
  if (m) return sentenceFor(m[1]);
  if (err?.code === "CALL_EXCEPTION") return "The contract refused the call without saying why.";
  return text;
}
