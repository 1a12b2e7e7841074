// The liquidity pool page: totals, history, grid and positions, the user's LP position,
// deposit (approve then deposit, slippage bound from previewDeposit) and redeem.
import { formatUnits } from "ethers";
import { app } from "./app.js";
import { lineChart, navSeries, windowReturns } from "./chart.js";
import { BPS, InputError, SHARE_DECIMALS, date, duration, esc, pct, ratio, shares, units, usdc } from "./format.js";

const ONE_SHARE = 10n ** BigInt(SHARE_DECIMALS);
const DAY = 86400n;

const card = (label, value, id = "") => `<div class="card"${id ? ` id="${id}"` : ""}><div class="label">${label}</div><div class="value">${value}</div></div>`;

async function unlockingRows(pool) {
  // Profit unlocking lands in the pool separately: show whatever no-argument views it has.
  const views = (app.config.abis.LiquidityPool || []).filter((e) => e.type === "function" && /unlock/i.test(e.name)
    && e.stateMutability === "view" && e.inputs.length === 0 && e.outputs.length === 1);
  const rows = [];
  for (const v of views) {
    try {
      const value = await pool[v.name]();
      const text = /time|until|end|at$/i.test(v.name) ? date(value) : /rate|per/i.test(v.name) ? value.toString() : `${usdc(value)} USDC`;
      rows.push(`<tr><td>${esc(v.name.replaceAll("_", " "))}</td><td>${text}</td></tr>`);
    } catch { /* a view that reverts is left out */ }
  }
  return rows;
}

async function positionsTable(exchange, pool, account) {
  const count = Number(await exchange.market_count());
  const rows = [];
  for (let m = 1; m <= count; m++) {
    const [size, cost] = await exchange.position(account, m);
    let gridText = "—";
    if (pool) {
      const g = await pool.grid(m);
      if (g.levels > 0n) gridText = `${g.levels} levels × ${shares(g.size_per_level, 18)} every ${pct(g.spacing_bps)}${g.active ? "" : " (paused)"}`;
    }
    if (size === 0n && gridText === "—") continue;
    const symbol = app.config.markets?.[m] || `market ${m}`;
    rows.push(`<tr><td>${esc(symbol)}</td><td>${shares(size, 18)}</td><td>${usdc(cost)}</td>${pool ? `<td>${gridText}</td>` : ""}</tr>`);
  }
  if (!rows.length) return `<p class="muted">No open positions.</p>`;
  return `<table><tr><th>market</th><th>position (base)</th><th>cost (USDC)</th>${pool ? "<th>grid</th>" : ""}</tr>${rows.join("")}</table>`;
}

// The pool's share of trading fees: paid out (FeesDistributed) plus accrued, not yet distributed.
async function poolFeeShare(exchange, pool) {
  if (!app.has("Exchange", "fees_accrued") || !app.has("Exchange", "fee_recipient")) return 0n;
  try {
    const events = await exchange.queryFilter(exchange.filters.FeesDistributed(), 0);
    let paid = events.filter((e) => e.args.recipient?.toLowerCase() === pool.toLowerCase())
      .reduce((sum, e) => sum + (e.args.recipient_amount ?? 0n), 0n);
    if ((await exchange.fee_recipient()).toLowerCase() === pool.toLowerCase()) {
      paid += (await exchange.fees_accrued()) * (await exchange.fee_share_bps()) / BPS;
    }
    return paid;
  } catch {
    return 0n; // an Exchange without these events or views: rebates only
  }
}

export async function renderPool() {
  const { contracts } = app.config;
  const pool = app.contract("LiquidityPool", contracts.pool);
  const exchange = app.contract("Exchange", contracts.exchange);
  const [tvl, supply, nav, lockup, dailyBps, cap, window, block] = await Promise.all([
    pool.totalAssets(), pool.totalSupply(), pool.convertToAssets(ONE_SHARE), pool.lockup(),
    pool.daily_withdraw_bps(), pool.deposit_cap(), pool.withdraw_window(), app.wallet.reader().getBlock("latest"),
  ]);
  const today = BigInt(block.timestamp) / DAY;
  const [day, base, withdrawn] = window;
  const roomToday = day === today ? base * dailyBps / BPS - withdrawn : tvl * dailyBps / BPS;
  const report = await app.api("/analytics/pool?series=true&bar=1h");
  const series = navSeries(report);
  const returns = windowReturns(series);
  const unlocking = await unlockingRows(pool);
  const feeShare = await poolFeeShare(exchange, contracts.pool);

  let mine = `<p class="muted">Connect your wallet to see your LP position and deposit.</p>`;
  const account = app.wallet.account;
  if (account && app.wallet.rightChain) {
    const usdcToken = app.contract("TestUSDC", contracts.usdc);
    const [bal, maxW, maxR, lockUntil, wallet, deposits, withdrawals] = await Promise.all([
      pool.balanceOf(account), pool.maxWithdraw(account), pool.maxRedeem(account), pool.lock_until(account),
      usdcToken.balanceOf(account), pool.queryFilter(pool.filters.Deposit(), 0), pool.queryFilter(pool.filters.Withdraw(), 0),
    ]);
    const value = await pool.convertToAssets(bal);
    const lower = account.toLowerCase();
    const paidIn = deposits.filter((e) => e.args.owner.toLowerCase() === lower).reduce((s, e) => s + e.args.assets, 0n);
    const paidOut = withdrawals.filter((e) => e.args.owner.toLowerCase() === lower).reduce((s, e) => s + e.args.assets, 0n);
    const pnl = value + paidOut - paidIn;
    const locked = BigInt(block.timestamp) < lockUntil;
    mine = `<div class="cards">
      ${card("Your LP tokens", shares(bal), "my-shares")}
      ${card("Value", `${usdc(value)} USDC`, "my-value")}
      ${card("PnL since entry", `${usdc(pnl)} USDC`, "my-pnl")}
      ${card("Lock-up ends", lockUntil === 0n ? "—" : locked ? date(lockUntil) : `ended ${date(lockUntil)}`, "my-lock")}
      ${card("You can withdraw now", `${usdc(maxW)} USDC`, "my-withdrawable")}
      ${card("Wallet", `${usdc(wallet)} USDC`, "my-wallet")}
    </div>
    <div class="grid2" style="margin-top:12px">
      <form data-action="pool-deposit">
        <h3>Deposit</h3>
        <label>USDC <input name="amount" placeholder="1000" autocomplete="off"></label>
        <label>Slippage (bps) <input name="slippage" value="50"></label>
        <div class="hint" id="deposit-preview">Each deposit locks your LP tokens for ${duration(lockup)}.</div>
        <button>Approve and deposit</button>
        ${Number(app.config.chain_id) === 31337 ? `<button type="button" class="secondary" data-action="faucet">Get 10,000 test USDC</button>` : ""}
      </form>
      <form data-action="pool-redeem">
        <h3>Redeem</h3>
        <label>LP tokens <input name="shares" placeholder="${shares(maxR)}" autocomplete="off"></label>
        <label>Slippage (bps) <input name="slippage" value="50"></label>
        <div class="hint" id="redeem-preview">Redeemable now: ${shares(maxR)} LP tokens.</div>
        <button>Redeem</button> <button type="button" class="secondary" data-action="redeem-max" data-max="${maxR}">Max</button>
      </form>
    </div>`;
  }

  return `
  <section id="pool-summary"><h2>Liquidity pool</h2>
    <div class="cards">
      ${card("Total value locked", `${usdc(tvl)} USDC`, "pool-tvl")}
      ${card("NAV per LP token", `${usdc(nav)} USDC`, "pool-nav")}
      ${card("Return 1d / 7d / 30d", `${ratio(returns["1d"])} / ${ratio(returns["7d"])} / ${ratio(returns["30d"])}`)}
      ${card("Fee income (fee share + rebates)", `${usdc(feeShare + BigInt(report?.rebates_earned ?? 0))} USDC`, "pool-fees")}
      ${card("Withdrawals left today", `${usdc(roomToday > 0n ? roomToday : 0n)} USDC`, "pool-room")}
      ${card("Deposit cap", `${usdc(cap)} USDC`)}
      ${card("Lock-up", duration(lockup))}
      ${card("LP token supply", shares(supply))}
    </div>
  </section>
  <section id="my-position"><h2>Your position</h2>${mine}</section>
  <div class="grid2">
    <section><h2>NAV per share</h2>${report ? lineChart(series, "NAV per share") : `<p class="muted">History comes from the keeper's analytics API, which this server does not offer.</p>`}</section>
    <section><h2>Profit unlocking</h2>${unlocking.length ? `<table>${unlocking.join("")}</table>` : `<p class="muted">This pool credits gains at once (no unlocking schedule in its contract).</p>`}</section>
  </div>
  <section id="pool-positions"><h2>Open positions and grid</h2>${await positionsTable(exchange, pool, contracts.pool)}</section>`;
}

// ---- actions (delegated: the page is re-rendered after each one)

async function depositPool(form) {
  const { contracts } = app.config;
  const amount = units(form.amount.value, 6, "amount");
  const slip = BigInt(form.slippage.value || "0");
  if (slip < 0n || slip > BPS) throw new InputError("Slippage must be between 0 and 10000 bps.");
  const account = app.wallet.account;
  const pool = app.contract("LiquidityPool", contracts.pool);
  const token = app.contract("TestUSDC", contracts.usdc);
  if ((await token.balanceOf(account)) < amount) throw new InputError("Your wallet does not hold that much USDC.");
  if (amount > (await pool.maxDeposit(account))) throw new InputError("The pool is full: this deposit would take it above its deposit cap.");
  const minShares = (await pool.previewDeposit(amount)) * (BPS - slip) / BPS;
  if ((await token.allowance(account, contracts.pool)) < amount) {
    await app.send("Approve USDC", "TestUSDC", contracts.usdc, "approve", [contracts.pool, amount]);
  }
  await app.send("Deposit", "LiquidityPool", contracts.pool, "deposit(uint256,address,uint256)", [amount, account, minShares]);
  app.status(`Deposited ${usdc(amount)} USDC into the pool.`, "ok");
}

async function redeemPool(form) {
  const { contracts } = app.config;
  const count = units(form.shares.value, SHARE_DECIMALS, "number of LP tokens");
  const slip = BigInt(form.slippage.value || "0");
  const account = app.wallet.account;
  const pool = app.contract("LiquidityPool", contracts.pool);
  const minAssets = (await pool.previewRedeem(count)) * (BPS - slip) / BPS;
  await app.send("Redeem", "LiquidityPool", contracts.pool, "redeem(uint256,address,address,uint256)", [count, account, account, minAssets]);
  app.status(`Redeemed ${shares(count)} LP tokens.`, "ok");
}

async function preview(form) {
  const pool = app.contract("LiquidityPool", app.config.contracts.pool);
  try {
    if (form.dataset.action === "pool-deposit" && form.amount.value) {
      const got = await pool.previewDeposit(units(form.amount.value, 6));
      const slip = BigInt(form.slippage.value || "0");
      document.querySelector("#deposit-preview").textContent = `You get about ${shares(got)} LP tokens (at least ${shares(got * (BPS - slip) / BPS)}).`;
    } else if (form.dataset.action === "pool-redeem" && form.shares.value) {
      const got = await pool.previewRedeem(units(form.shares.value, SHARE_DECIMALS));
      document.querySelector("#redeem-preview").textContent = `You get about ${usdc(got)} USDC.`;
    }
  } catch { /* previews are best effort while typing */ }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.action === "pool-deposit") { event.preventDefault(); app.act(() => depositPool(form)); }
  if (form.dataset.action === "pool-redeem") { event.preventDefault(); app.act(() => redeemPool(form)); }
});
document.addEventListener("input", (event) => {
  const form = event.target.form;
  if (form && form.dataset.action?.startsWith("pool-")) preview(form);
});
document.addEventListener("click", (event) => {
  const el = event.target;
  if (el.dataset.action === "redeem-max") {
    el.form.shares.value = formatUnits(BigInt(el.dataset.max), SHARE_DECIMALS).replace(/\.0$/, "");
    preview(el.form);
  }
  if (el.dataset.action === "faucet") {
    app.act(async () => {
      await app.send("Test USDC faucet", "TestUSDC", app.config.contracts.usdc, "faucet", [10000n * 10n ** 6n]);
      app.status("10,000 test USDC minted to your wallet.", "ok");
    });
  }
});
