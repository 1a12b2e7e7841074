// The wallet app: routing, status line, transactions. Pages live in pool.js and vaults.js.
import { Contract } from "ethers";
import { explain, short } from "./format.js";
import { Wallet } from "./wallet.js";
import { renderPool } from "./pool.js";
import { renderVault, renderVaults } from "./vaults.js";

const $ = (sel) => document.querySelector(sel);

export const app = {
  config: null,
  wallet: null,
  busy: false,

  contract(name, address, runner) {
    return new Contract(address, this.config.abis[name] || [], runner || this.wallet.reader());
  },

  // Whether the deployed contract's ABI has a function (views that land later are optional).
  has(name, fn) {
    return (this.config.abis[name] || []).some((e) => e.type === "function" && e.name === fn);
  },

  status(text, kind = "idle") {
    const el = $("#status");
    el.textContent = text;
    el.dataset.kind = kind;
  },

  async api(path) {
    try {
      const res = await fetch((this.config.api || "") + path);
      return res.ok ? await res.json() : null;
    } catch {
      return null;
    }
  },

  // Simulate (the revert reason before the wallet is asked), then sign, send and wait.
  async send(label, name, address, method, args) {
    const signer = await this.wallet.signer();
    const c = this.contract(name, address, signer);
    this.status(`${label}: checking…`, "pending");
    await c[method].staticCall(...args);
    // the bare estimate can run out of gas when mined (a later block time or state):
    // the same headroom as every other sender in the project (offchain/gas.py)
    const gasLimit = ((await c[method].estimateGas(...args)) * 6n) / 5n + 50000n;
    this.status(`${label}: confirm in your wallet…`, "pending");
    const tx = await c[method](...args, { gasLimit });
    this.status(`${label}: sent ${short(tx.hash)}, waiting for confirmation…`, "pending");
    const receipt = await tx.wait();
    if (receipt.status !== 1) throw new Error(`${label} failed on chain (${tx.hash}).`);
    this.status(`${label}: confirmed in block ${receipt.blockNumber}.`, "ok");
    return { receipt, contract: c };
  },

  // Run a user action: one at a time, errors as sentences, the page refreshed afterwards.
  async act(fn) {
    if (this.busy) return;
    this.busy = true;
    document.body.classList.add("busy");
    try {
      await fn();
    } catch (err) {
      console.error(err);
      this.status(explain(err), "error");
    } finally {
      this.busy = false;
      document.body.classList.remove("busy");
      await render();
    }
  },
};

function showWallet() {
  const w = app.wallet;
  const choices = w.available();
  const select = $("#wallet-choice");
  select.hidden = w.account !== null || choices.length < 2;
  select.innerHTML = choices.map((c) => `<option value="${c.info.uuid}">${c.info.name}</option>`).join("");
  $("#connect").hidden = w.account !== null;
  $("#account").hidden = w.account === null;
  $("#account").textContent = w.account ? short(w.account) : "";
  $("#account").title = w.account || "";
  const wrong = w.account !== null && !w.rightChain;
  $("#chain-banner").hidden = !wrong;
  if (wrong) {
    $("#chain-message").textContent =
      `Your wallet is on chain ${w.chainId}; this app runs on ${app.config.chain_name} (chain ${app.config.chain_id}).`;
  }
}

let renderSeq = 0;
export async function render() {
  showWallet();
  const seq = ++renderSeq;
  const route = location.hash.replace(/^#\/?/, "") || "pool";
  const [page, arg] = route.split("/");
  for (const id of ["pool", "vaults"]) $(`#nav-${id}`).classList.toggle("active", page.startsWith(id.slice(0, 5)));
  const main = $("#page");
  if (!app.wallet.reader()) {
    main.innerHTML = `<section><h2>Nothing to read yet</h2><p>Connect a wallet on ${app.config.chain_name} to see the pool and the vaults.</p></section>`;
    return;
  }
  try {
    const html = page === "vault" && arg ? await renderVault(arg) : page === "vaults" ? await renderVaults() : await renderPool();
    if (seq !== renderSeq) return; // a newer render started meanwhile
    main.innerHTML = html;
    main.dataset.page = page;
    main.dispatchEvent(new CustomEvent("rendered", { bubbles: true }));
  } catch (err) {
    console.error(err);
    if (seq === renderSeq) main.innerHTML = `<section><h2>Could not read the chain</h2><p class="error">${explain(err)}</p></section>`;
  }
}

async function start() {
  app.config = await (await fetch("config.json", { cache: "no-store" })).json();
  app.wallet = new Wallet(app.config, async (what) => {
    if (what === "account") app.status(app.wallet.account ? `Account changed to ${short(app.wallet.account)}.` : "Wallet disconnected.");
    if (what === "chain") app.status(app.wallet.rightChain ? `Connected to ${app.config.chain_name}.` : "Your wallet switched to another network.", app.wallet.rightChain ? "ok" : "error");
    await render();
  });
  $("#connect").addEventListener("click", () => app.act(async () => {
    app.status("Asking your wallet to connect…", "pending");
    await app.wallet.connect($("#wallet-choice").value);
    app.status(app.wallet.rightChain ? `Connected ${short(app.wallet.account)}.` : "Connected, but on another network.", app.wallet.rightChain ? "ok" : "error");
  }));
  $("#switch-chain").addEventListener("click", () => app.act(async () => {
    app.status(`Asking your wallet to switch to ${app.config.chain_name}…`, "pending");
    await app.wallet.switchChain();
  }));
  window.addEventListener("hashchange", render);
  document.body.dataset.ready = "1";
  await render();
}

start();
