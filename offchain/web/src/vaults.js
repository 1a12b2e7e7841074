// Vaults: the list, one vault's page (chart, positions, deposit, withdrawal request, queue,
// claim) and the leader's tools (create a vault, set its strategy).
import { formatUnits, isAddress } from "ethers";
import { app } from "./app.js";
import { lineChart, navSeries } from "./chart.js";
import { BPS, InputError, date, duration, esc, pct, ratio, shares, short, units, usdc } from "./format.js";

const KINDS = ["none", "grid", "two-sided quote", "delta-neutral", "custom"];
const INITIAL_PRICE = 10n ** 12n; // share_price() of an empty vault: 1e18 * 1 / 1e6 virtual shares
const card = (label, value, id = "") => `<div class="card"${id ? ` id="${id}"` : ""}><div class="label">${label}</div><div class="value">${value}</div></div>`;

const sinceStart = (price) => Number(price - INITIAL_PRICE) / Number(INITIAL_PRICE);
const drawdown = (price, peak) => (peak > 0n && price < peak ? Number(peak - price) / Number(peak) : 0);

async function followers(vault, owner) {
  const deposits = await vault.queryFilter(vault.filters.Deposit(), 0);
  const people = [...new Set(deposits.map((e) => e.args.depositor))].filter((a) => a !== owner);
  const balances = await Promise.all(people.map((a) => vault.balanceOf(a)));
  return balances.filter((b) => b > 0n).length;
}

async function summary(address) {
  const v = app.contract("Vault", address);
  const [name, owner, manager, profitShare, tvl, price, peak, lockup, strategy, open, halted, unwinding] = await Promise.all([
    v.name(), v.owner(), v.manager(), v.profit_share_bps(), v.total_assets(), v.share_price(), v.peak_price(),
    v.lockup(), v.strategy(), v.deposits_open(), v.halted(), v.unwinding(),
  ]);
  return { address, v, name, owner, manager, profitShare, tvl, price, peak, lockup, strategy, open, halted, unwinding,
           followers: await followers(v, owner) };
}

const stateText = (s) => (s.halted ? "halted (drawdown)" : s.unwinding ? "unwinding" : s.open ? "open" : "closed to deposits");

export async function renderVaults() {
  const factory = app.contract("VaultFactory", app.config.contracts.factory);
  const count = Number(await factory.vault_count());
  const list = await Promise.all([...Array(count).keys()].map(async (i) => summary(await factory.vaults(i))));
  const rows = list.map((s) => `<tr class="link" data-href="#/vault/${s.address}">
      <td><a href="#/vault/${s.address}">${esc(s.name)}</a></td><td class="mono" title="${s.owner}">${short(s.owner)}</td>
      <td class="mono" title="${s.manager}">${short(s.manager)}</td><td>${pct(s.profitShare)}</td><td>${usdc(s.tvl)}</td>
      <td>${ratio(sinceStart(s.price))}</td><td>${ratio(drawdown(s.price, s.peak))}</td><td>${s.followers}</td>
      <td>${duration(s.lockup)}</td><td>${KINDS[Number(s.strategy.kind)] || s.strategy.kind}</td><td>${stateText(s)}</td></tr>`);
  const me = app.wallet.account && app.wallet.rightChain ? app.wallet.account : "";
  return `<section id="vault-list"><h2>Vaults</h2>
    ${rows.length ? `<table><tr><th>name</th><th>leader</th><th>manager</th><th>profit share</th><th>TVL (USDC)</th>
      <th>return</th><th>drawdown</th><th>followers</th><th>lock-up</th><th>strategy</th><th>state</th></tr>${rows.join("")}</table>`
      : `<p class="muted">No vaults yet.</p>`}
    <p class="hint">Return is the share price against an empty vault's; drawdown is from the peak share price.</p></section>
  <section id="create-vault"><h2>Lead a vault</h2>${me ? `<form data-action="vault-create">
      <label>Name <input name="name" maxlength="64" placeholder="My grid"></label>
      <label>Manager (trades it) <input name="manager" value="${me}"></label>
      <label>Profit share (%) <input name="profit" value="10"></label>
      <label>Minimum leader stake (%) <input name="stake" value="5"></label>
      <label>Lock-up (hours) <input name="lockup" value="24"></label>
      <label>Drawdown halt (%) <input name="drawdown" value="20"></label>
      <div class="hint">You become the leader: deposit first, followers can join while you keep the minimum stake.</div>
      <button>Create vault</button></form>` : `<p class="muted">Connect your wallet to create a vault.</p>`}</section>`;
}

async function myRequests(v, account) {
  const [head, tail] = await Promise.all([v.queue_head(), v.queue_tail()]);
  const out = [];
  for (let i = head; i < tail; i++) {
    const r = await v.requests(i);
    if (r.depositor.toLowerCase() === account.toLowerCase()) out.push({ id: i, ahead: i - head, ...r.toObject() });
  }
  return out;
}

export async function renderVault(address) {
  if (!isAddress(address)) return `<section><h2>Not a vault address</h2></section>`;
  const s = await summary(address);
  const { v } = s;
  const exchange = app.contract("Exchange", app.config.contracts.exchange);
  const [queue, liquidity, drawLimit, minStake] = await Promise.all([v.queue_length(), v.available_liquidity(), v.drawdown_limit_bps(), v.min_owner_stake_bps()]);
  const report = await app.api(`/analytics/vault/${address}?series=true&bar=1h`);
  const count = Number(await exchange.market_count());
  const positions = [];
  for (let m = 1; m <= count; m++) {
    const [size, cost] = await exchange.position(address, m);
    if (size !== 0n) positions.push(`<tr><td>${esc(app.config.markets?.[m] || `market ${m}`)}</td><td>${shares(size, 18)}</td><td>${usdc(cost)}</td></tr>`);
  }
  const account = app.wallet.account && app.wallet.rightChain ? app.wallet.account : "";
  let mine = `<p class="muted">Connect your wallet to deposit into this vault.</p>`;
  if (account) {
    const [bal, lockUntil, basis, block] = await Promise.all([v.balanceOf(account), v.lock_until(account), v.hwm(account), app.wallet.reader().getBlock("latest")]);
    const [value, [payout, fee]] = await Promise.all([v.convert_to_assets(bal), bal > 0n ? v.preview_withdraw(account, bal) : [0n, 0n]]);
    const requests = await myRequests(v, account);
    const locked = BigInt(block.timestamp) < lockUntil;
    const reqRows = requests.map((r) => `<tr><td>#${r.id}</td><td>${shares(r.shares)}</td><td>${usdc(r.value)}</td>
      <td>${r.ahead === 0n ? "next in line" : `${r.ahead} ahead`}</td><td>${date(r.requested_at)}</td>
      <td><button type="button" data-action="vault-claim" data-id="${r.id}" ${r.ahead === 0n ? "" : "disabled"}>Claim</button></td></tr>`);
    mine = `<div class="cards">
      ${card("Your shares", shares(bal), "my-vault-shares")}
      ${card("Value", `${usdc(value)} USDC`, "my-vault-value")}
      ${card("Payout now (after profit share)", `${usdc(payout)} USDC`, "my-vault-payout")}
      ${card("Profit share due", `${usdc(fee)} USDC`)}
      ${card("Your high-water mark", `${usdc(basis)} USDC`)}
      ${card("Lock-up ends", lockUntil === 0n ? "—" : locked ? date(lockUntil) : `ended ${date(lockUntil)}`, "my-vault-lock")}
    </div>
    ${requests.length ? `<h3>Your withdrawal requests</h3><table id="my-requests"><tr><th>request</th><th>shares</th><th>up to (USDC)</th><th>queue</th><th>requested</th><th></th></tr>${reqRows.join("")}</table>` : ""}
    <div class="grid2" style="margin-top:12px">
      <form data-action="vault-deposit">
        <h3>Deposit</h3>
        <label>USDC <input name="amount" placeholder="500" autocomplete="off"></label>
        <label>Slippage (bps) <input name="slippage" value="50"></label>
        <div class="hint">Each deposit restarts your ${duration(s.lockup)} lock-up.</div>
        <button>Approve and deposit</button>
      </form>
      <form data-action="vault-withdraw">
        <h3>Withdraw</h3>
        <label>Shares <input name="shares" placeholder="all" autocomplete="off"></label>
        <div class="hint">Paid at once when the vault has the cash (${usdc(liquidity)} USDC now); otherwise your request joins the queue and the keeper frees the cash.</div>
        <button>Request withdrawal</button> <button type="button" class="secondary" data-action="vault-all" data-max="${formatUnits(bal, 12)}">All</button>
      </form>
    </div>`;
  }
  const isManager = account && account.toLowerCase() === s.manager.toLowerCase();
  const st = s.strategy;
  return `<section id="vault-summary"><h2>${esc(s.name)} <span class="muted mono">${address}</span></h2>
    <div class="cards">
      ${card("TVL", `${usdc(s.tvl)} USDC`, "vault-tvl")}
      ${card("Return", ratio(sinceStart(s.price)))}
      ${card("Max drawdown", report && report.max_drawdown !== null ? ratio(report.max_drawdown) : ratio(drawdown(s.price, s.peak)))}
      ${card("Drawdown halt at", pct(drawLimit))}
      ${card("Leader", `<span class="mono" title="${s.owner}">${short(s.owner)}</span>`)}
      ${card("Manager", `<span class="mono" title="${s.manager}">${short(s.manager)}</span>`)}
      ${card("Profit share", pct(s.profitShare))}
      ${card("Leader's minimum stake", pct(minStake))}
      ${card("Followers", s.followers)}
      ${card("Lock-up", duration(s.lockup))}
      ${card("Strategy", `${KINDS[Number(st.kind)] || st.kind}${st.market ? ` on ${esc(app.config.markets?.[st.market] || `market ${st.market}`)}` : ""}`)}
      ${card("State", stateText(s), "vault-state")}
      ${card("Withdrawals queued", queue.toString(), "vault-queue")}
    </div></section>
  <section id="my-vault"><h2>Your holding</h2>${mine}</section>
  <div class="grid2">
    <section><h2>Share price</h2>${report ? lineChart(navSeries(report), "share price") : `<p class="muted">History comes from the keeper's analytics API, which this server does not offer.</p>`}</section>
    <section><h2>Positions</h2>${positions.length ? `<table><tr><th>market</th><th>position (base)</th><th>cost (USDC)</th></tr>${positions.join("")}</table>` : `<p class="muted">No open positions.</p>`}</section>
  </div>
  ${isManager ? `<section id="set-strategy"><h2>Strategy (you manage this vault)</h2><form data-action="vault-strategy" data-vault="${address}">
    <label>Kind <select name="kind">${KINDS.map((k, i) => `<option value="${i}" ${BigInt(i) === st.kind ? "selected" : ""}>${k}</option>`).join("")}</select></label>
    <label>Market id <input name="market" value="${st.market || 1}"></label>
    <label>Levels per side <input name="levels" value="${st.levels || 5}"></label>
    <label>Grid spacing (bps) <input name="spacing" value="${st.spacing_bps || 30}"></label>
    <label>Quote spread (bps) <input name="spread" value="${st.spread_bps || 0}"></label>
    <label>Size per level (base units, e.g. 0.1) <input name="size" value="${st.size_per_level ? formatUnits(st.size_per_level, 18) : "0.1"}"></label>
    <button>Publish strategy</button></form></section>` : ""}`;
}

// ---- actions

const current = () => location.hash.split("/")[2];
const int = (text, what) => { if (!/^\d+$/.test(String(text).trim())) throw new InputError(`Enter ${what} as a whole number.`); return BigInt(text); };
const bpsOf = (text, what) => { const n = Number(text); if (!(n >= 0 && n <= 100)) throw new InputError(`${what} must be between 0 and 100%.`); return BigInt(Math.round(n * 100)); };

async function createVault(form) {
  const name = form.name.value.trim();
  if (!name) throw new InputError("Give the vault a name.");
  if (!isAddress(form.manager.value.trim())) throw new InputError("The manager must be an address (0x…).");
  const args = [name, form.manager.value.trim(), bpsOf(form.profit.value, "The profit share"), bpsOf(form.stake.value, "The minimum stake"),
                int(form.lockup.value, "the lock-up in hours") * 3600n, bpsOf(form.drawdown.value, "The drawdown halt")];
  const { receipt, contract } = await app.send("Create vault", "VaultFactory", app.config.contracts.factory, "create_vault(string,address,uint256,uint256,uint256,uint256)", args);
  const created = receipt.logs.map((l) => { try { return contract.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "VaultCreated");
  app.status(`Vault “${name}” created. Deposit into it first: followers join once you hold the minimum stake.`, "ok");
  if (created) location.hash = `#/vault/${created.args.vault}`;
}

async function depositVault(form) {
  const address = current();
  const amount = units(form.amount.value, 6, "amount");
  const slip = BigInt(form.slippage.value || "0");
  const account = app.wallet.account;
  const token = app.contract("TestUSDC", app.config.contracts.usdc);
  const v = app.contract("Vault", address);
  if ((await token.balanceOf(account)) < amount) throw new InputError("Your wallet does not hold that much USDC.");
  const minShares = (await v.convert_to_shares(amount)) * (BPS - slip) / BPS;
  if ((await token.allowance(account, address)) < amount) {
    // the vault's own checks first, so a refused deposit does not leave an approval behind
    const owner = await v.owner();
    if (account.toLowerCase() !== owner.toLowerCase()) {
      const [open, ownerShares, supply, pending, stake, mint] = await Promise.all([v.deposits_open(), v.balanceOf(owner), v.totalSupply(), v.pending_shares(), v.min_owner_stake_bps(), v.convert_to_shares(amount)]);
      if (!open) throw Object.assign(new Error(), { reason: "vault: deposits closed" });
      if (ownerShares * BPS < stake * (supply - pending + mint)) throw Object.assign(new Error(), { reason: "vault: owner stake" });
    }
    await app.send("Approve USDC", "TestUSDC", app.config.contracts.usdc, "approve", [address, amount]);
  }
  await app.send("Deposit", "Vault", address, "deposit(uint256,uint256)", [amount, minShares]);
  app.status(`Deposited ${usdc(amount)} USDC into the vault.`, "ok");
}

async function withdrawVault(form) {
  const address = current();
  const v = app.contract("Vault", address);
  const text = form.shares.value.trim();
  const count = text === "" || text.toLowerCase() === "all" ? await v.balanceOf(app.wallet.account) : units(text, 12, "number of shares");
  if (count === 0n) throw new InputError("You hold no shares of this vault.");
  const { receipt, contract } = await app.send("Withdraw", "Vault", address, "withdraw(uint256,uint256)", [count, 0n]);
  const events = receipt.logs.map((l) => { try { return contract.interface.parseLog(l); } catch { return null; } }).filter(Boolean);
  const paid = events.find((e) => e.name === "Withdraw");
  const queued = events.find((e) => e.name === "WithdrawalQueued");
  if (paid) app.status(`Withdrawn: ${usdc(paid.args.assets)} USDC paid to your wallet (profit share ${usdc(paid.args.fee)}).`, "ok");
  else if (queued) app.status(`Your withdrawal is queued as request #${queued.args.request_id} for up to ${usdc(queued.args.value)} USDC; claim it when it is next in line and the cash is free.`, "ok");
}

async function claimVault(id) {
  const { receipt, contract } = await app.send("Claim", "Vault", current(), "claim", [BigInt(id)]);
  const ev = receipt.logs.map((l) => { try { return contract.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "WithdrawalClaimed");
  app.status(`Claimed request #${id}: ${usdc(ev.args.assets)} USDC paid to your wallet.`, "ok");
}

async function setStrategy(form) {
  const size = units(form.size.value, 18, "size per level");
  const config = [int(form.kind.value, "the kind"), int(form.market.value, "the market id"), int(form.levels.value, "the levels"), 0n, 0n,
                  int(form.spacing.value, "the spacing"), size, int(form.spread.value, "the spread"), 0n, "0x"];
  await app.send("Set strategy", "Vault", form.dataset.vault, "set_strategy", [config]);
  app.status("Strategy published; the keeper picks it up from the chain.", "ok");
}

const forms = { "vault-create": createVault, "vault-deposit": depositVault, "vault-withdraw": withdrawVault, "vault-strategy": setStrategy };
document.addEventListener("submit", (event) => {
  const action = forms[event.target.dataset.action];
  if (action) { event.preventDefault(); app.act(() => action(event.target)); }
});
document.addEventListener("click", (event) => {
  const el = event.target;
  if (el.dataset.action === "vault-claim") app.act(() => claimVault(el.dataset.id));
  if (el.dataset.action === "vault-all") el.form.shares.value = el.dataset.max;
  const row = el.closest?.("tr.link");
  if (row && el.tagName !== "A") location.hash = row.dataset.href;
});
