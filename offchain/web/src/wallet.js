// The user's wallet: EIP-6963 discovery (falling back to window.ethereum), connect, chain
// check and switch, and account / chain change events. Each action builds a fresh
// BrowserProvider so a chain switch never leaves ethers on a stale network.
import { BrowserProvider, JsonRpcProvider } from "ethers";

export class Wallet {
  constructor(config, onChange) {
    this.config = config;
    this.onChange = onChange;
    this.choices = []; // [{info, provider}]
    this.provider = null;
    this.account = null;
    this.chainId = null;
    this.rpc = config.rpc_url ? new JsonRpcProvider(config.rpc_url, config.chain_id, { staticNetwork: true }) : null;
    window.addEventListener("eip6963:announceProvider", (event) => {
      const { info, provider } = event.detail;
      if (!this.choices.some((c) => c.info.uuid === info.uuid)) this.choices.push({ info, provider });
      this.onChange("wallets");
    });
    window.dispatchEvent(new Event("eip6963:requestProvider"));
  }

  available() {
    if (this.choices.length) return this.choices;
    return window.ethereum ? [{ info: { uuid: "injected", name: "Browser wallet" }, provider: window.ethereum }] : [];
  }

  get rightChain() {
    return this.chainId !== null && this.chainId === Number(this.config.chain_id);
  }

  async connect(uuid) {
    const choice = this.available().find((c) => c.info.uuid === uuid) || this.available()[0];
    if (!choice) throw new Error("No wallet found in this browser: install MetaMask, Rabby or Frame, then reload.");
    const provider = choice.provider;
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    if (this.provider !== provider) {
      provider.on?.("accountsChanged", (list) => { this.account = list[0] || null; this.onChange("account"); });
      provider.on?.("chainChanged", (id) => { this.chainId = Number(id); this.onChange("chain"); });
    }
    this.provider = provider;
    this.account = accounts[0] || null;
    this.chainId = Number(await provider.request({ method: "eth_chainId" }));
    this.onChange("connect");
  }

  async switchChain() {
    const chainId = "0x" + Number(this.config.chain_id).toString(16);
    try {
      await this.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
    } catch (err) {
      if (err?.code !== 4902 || !this.config.rpc_url) throw err;
      await this.provider.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId, chainName: this.config.chain_name, rpcUrls: [this.config.rpc_url],
                   nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
      });
    }
    this.chainId = Number(await this.provider.request({ method: "eth_chainId" }));
    this.onChange("chain");
  }

  // Reads: the configured RPC when there is one, else the wallet (on the right chain only).
  reader() {
    if (this.rpc) return this.rpc;
    if (this.provider && this.rightChain) return new BrowserProvider(this.provider);
    return null;
  }

  async signer() {
    if (!this.provider || !this.account) throw new Error("Connect your wallet first.");
    if (!this.rightChain) throw new Error(`Your wallet is on another network: switch it to ${this.config.chain_name} first.`);
    return new BrowserProvider(this.provider).getSigner(this.account);
  }
}
