// A small EIP-1193 test wallet injected before the app loads. It holds one of anvil's dev
// accounts (unlocked in anvil, so eth_sendTransaction is signed by the node), forwards
// every other call to anvil through a Playwright binding, announces itself by EIP-6963,
// and lets the test switch chains, switch accounts and refuse the next transaction.
(() => {
  const config = window.__mmxTestWallet; // {account, chainId, realChainId}
  const state = { account: config.account, chainId: config.chainId, connected: false, rejectNext: false };
  const listeners = {};
  const emit = (event, value) => (listeners[event] || []).forEach((fn) => fn(value));
  const hex = (n) => "0x" + n.toString(16);
  const provider = {
    isMmxTestWallet: true,
    on(event, fn) { (listeners[event] ||= []).push(fn); return provider; },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((g) => g !== fn); return provider; },
    async request({ method, params = [] }) {
      switch (method) {
        case "eth_requestAccounts": state.connected = true; return [state.account];
        case "eth_accounts": return state.connected ? [state.account] : [];
        case "eth_chainId": return hex(state.chainId);
        case "net_version": return String(state.chainId);
        case "wallet_switchEthereumChain":
          state.chainId = parseInt(params[0].chainId, 16);
          emit("chainChanged", hex(state.chainId));
          return null;
        case "eth_sendTransaction":
          if (state.rejectNext) {
            state.rejectNext = false;
            throw Object.assign(new Error("User rejected the request."), { code: 4001 });
          }
          if (state.chainId !== config.realChainId) throw Object.assign(new Error("wrong chain"), { code: 4901 });
          break;
      }
      const reply = await window.__mmxRpc(method, params);
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error);
      return reply.result;
    },
  };
  window.__mmxWallet = {
    state,
    switchAccount(account) { state.account = account; emit("accountsChanged", [account]); },
    rejectNext() { state.rejectNext = true; },
  };
  window.ethereum = provider;
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", {
    detail: Object.freeze({ info: { uuid: "9b1c2f6e-mmx-test", name: "MMX test wallet", rdns: "dev.mmx.testwallet",
                                    icon: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>" }, provider }),
  }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
