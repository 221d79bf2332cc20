// Self-custody: the browser makes, keeps and uses the wallet key; the site never sees it.
//
// Sign-up (#self-custody-signup): makes a key, signs the link message (PROTOCOL.md 4.1) with
// the page's one-use challenge, keeps the key in IndexedDB or localStorage as the person
// chose, and posts only the address and the signature.
// Wallet page (#self-custody): finds the key, signs transfers, orders, cancels, stake bonds,
// votes, proposals and cash-outs with it
// (PROTOCOL.md 5, through gtx_protocol.js), submits them to POST /api/v1/transactions/ and
// polls GET /api/v1/transactions/<hash>/ until each is included or failed.
//
// ed25519 is @noble/ed25519 from npm (package.json), served from node_modules by Django's
// staticfiles (settings.STATICFILES_DIRS "vendor/noble-ed25519"); its SHA-512 is WebCrypto's,
// which browsers give only to secure contexts (HTTPS, or http://localhost and 127.0.0.1).
import * as ed from "../vendor/noble-ed25519/index.js";
import {
  bytesToHex,
  decimalToUnits,
  hexToBytes,
  linkMessageBytes,
  txSigningBytes,
} from "./gtx_protocol.js";
import { backupEncode, backupOpen, MAX_BACKUP_BYTES } from "./key_backup.js";

const TOKEN_DECIMALS = 6;
const WH_DECIMALS = 3; // energy is typed in kWh, signed in Wh
const POLL_MS = 1000;
const POLL_GIVE_UP_MS = 120000;
const LOCAL_PREFIX = "gtx-self-custody-key:";
const DB_NAME = "gridtokenx";
const DB_STORE = "keys";

// --- where the key is kept ---------------------------------------------------------------

function openDb() {
  return new Promise(function (resolve, reject) {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = function () { request.result.createObjectStore(DB_STORE); };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });
}

async function idbDo(mode, action) {
  const db = await openDb();
  try {
    return await new Promise(function (resolve, reject) {
      const request = action(db.transaction(DB_STORE, mode).objectStore(DB_STORE));
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  } finally {
    db.close();
  }
}

async function keyStore(address, seedHex, where) {
  if (where === "local") localStorage.setItem(LOCAL_PREFIX + address, seedHex);
  else await idbDo("readwrite", function (store) { return store.put(seedHex, address); });
}

// The seed of ``address``'s key in this browser, or null; checked against the address.
async function keyFind(address) {
  let seedHex = localStorage.getItem(LOCAL_PREFIX + address);
  let where = "localStorage";
  if (seedHex === null && "indexedDB" in window) {
    seedHex = (await idbDo("readonly", function (store) { return store.get(address); })) || null;
    where = "IndexedDB";
  }
  if (seedHex === null) return null;
  const seed = hexToBytes(seedHex);
  if (bytesToHex(await ed.getPublicKeyAsync(seed)) !== address) return null;
  return { seed: seed, where: where };
}

function download(filename, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
}

// --- sign-up -----------------------------------------------------------------------------

async function setUpSignup(form) {
  const addressInput = form.querySelector("input[name=address]");
  const signatureInput = form.querySelector("input[name=signature]");
  const shown = document.getElementById("self-custody-address");
  const button = document.getElementById("self-custody-submit");
  const problem = document.getElementById("self-custody-error");
  let seed = null;
  // After a refused attempt the page comes back with the address: keep using its key.
  if (/^[0-9a-f]{64}$/.test(addressInput.value)) {
    const found = await keyFind(addressInput.value);
    if (found !== null) seed = found.seed;
  }
  if (seed === null) {
    seed = ed.utils.randomSecretKey();
    addressInput.value = bytesToHex(await ed.getPublicKeyAsync(seed));
  }
  shown.textContent = addressInput.value;
  button.disabled = false;

  let signed = false;
  form.addEventListener("submit", async function (event) {
    if (signed) return;
    event.preventDefault();
    button.disabled = true;
    try {
      const message = linkMessageBytes({
        address: addressInput.value,
        chain_id: form.dataset.chainId,
        challenge: form.dataset.challenge,
        site: form.dataset.site,
        username: form.querySelector("input[name=username]").value,
      });
      signatureInput.value = bytesToHex(await ed.signAsync(message, seed));
      const where = (form.querySelector("input[name=storage]:checked") || {}).value || "indexeddb";
      await keyStore(addressInput.value, bytesToHex(seed), where);
      signed = true;
      form.submit();
    } catch (error) {
      problem.textContent = interpolate(gettext("Your browser could not keep or use the key: %(error)s"), { error: error.message }, true);
      problem.hidden = false;
      button.disabled = false;
    }
  });
}

// --- the wallet page ---------------------------------------------------------------------

async function api(path, options) {
  const response = await fetch(path, Object.assign({ headers: { Accept: "application/json" }, credentials: "omit" }, options || {}));
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { status: response.status, body: body };
}

function refusalText(answer) {
  const error = answer.body && answer.body.error;
  if (!error) return interpolate(gettext("The site answered %(status)s."), { status: answer.status }, true);
  const problems = error.problems || [];
  return problems.length ? problems.map(function (p) { return p.message; }).join(" ") : error.message;
}

async function sha256Hex(bytes) {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

function setUpWallet(panel) {
  const address = panel.dataset.address;
  const chainId = panel.dataset.chainId;
  const status = document.getElementById("sc-key-status");
  const submittedList = document.getElementById("sc-submitted-list");
  let seed = null;

  function ready(isReady) {
    panel.querySelectorAll("form button[type=submit]").forEach(function (b) { b.disabled = !isReady; });
  }

  async function showKey() {
    const found = await keyFind(address);
    seed = found && found.seed;
    document.getElementById("sc-key-actions").hidden = seed === null;
    document.getElementById("sc-key-load").hidden = seed !== null;
    status.textContent = seed === null
      ? gettext("This browser does not hold the key of this wallet. Load your key file to sign here.")
      : interpolate(gettext("This browser holds your key (%(where)s). It signs here; the site never sees it."), { where: found.where }, true);
    status.className = seed === null ? "form-error" : "muted";
    ready(seed !== null);
  }

  // A key file is the site's backup format (key_backup.js): encrypted, never the seed in clear.
  document.getElementById("sc-key-save").addEventListener("click", async function (event) {
    const error = document.getElementById("sc-save-error");
    const passphrase = document.getElementById("sc-save-passphrase");
    error.textContent = "";
    event.target.setAttribute("aria-busy", "true");
    try {
      download("gridtokenx-wallet-" + address.slice(0, 12) + ".json", await backupEncode(seed, address, passphrase.value));
      passphrase.value = "";
    } catch (e) {
      error.textContent = e.message;
    } finally {
      event.target.removeAttribute("aria-busy");
    }
  });

  document.getElementById("sc-key-load-button").addEventListener("click", async function (event) {
    const error = document.getElementById("sc-key-error");
    error.textContent = "";
    event.target.setAttribute("aria-busy", "true");
    try {
      const file = document.getElementById("sc-key-file").files[0];
      if (!file) throw new Error(gettext("Choose your key file first."));
      if (file.size > MAX_BACKUP_BYTES) throw new Error(interpolate(gettext("A wallet backup is at most %(bytes)s bytes."), { bytes: MAX_BACKUP_BYTES }, true));
      const opened = await backupOpen(await file.text(), document.getElementById("sc-load-passphrase").value);
      if (opened.address !== address) throw new Error(gettext("That file holds the key of another wallet."));
      if (bytesToHex(await ed.getPublicKeyAsync(opened.seed)) !== address) {
        throw new Error(gettext("The key in that file is not the key of its address."));
      }
      await keyStore(address, bytesToHex(opened.seed), "indexeddb");
      await showKey();
      await refreshOrders();
    } catch (e) {
      error.textContent = e.message;
    } finally {
      event.target.removeAttribute("aria-busy");
    }
  });

  function track(hash, label) {
    document.getElementById("sc-submitted-empty").hidden = true;
    const item = document.createElement("li");
    item.dataset.hash = hash;
    const link = document.createElement("a");
    link.href = "/explorer/tx/" + hash + "/";
    link.className = "mono";
    link.textContent = hash.slice(0, 12) + "…";
    const badge = document.createElement("span");
    badge.className = "status status-pending";
    badge.textContent = gettext("pending");
    item.append(badge, " ", label, " ", link);
    submittedList.prepend(item);
    const started = Date.now();
    async function poll() {
      const answer = await api("/api/v1/transactions/" + hash + "/");
      const tx = answer.body || {};
      if (tx.status === "committed" || tx.status === "dropped") {
        const ok = tx.status === "committed" && tx.ok;
        badge.className = "status " + (ok ? "status-ok" : "status-failed");
        badge.textContent = ok
          ? interpolate(gettext("included in block %(height)s"), { height: tx.block.height }, true)
          : interpolate(gettext("failed: %(reason)s"), { reason: tx.error ? tx.error.message : tx.status }, true);
        item.dataset.state = ok ? "included" : "failed";
        refreshOrders();
        return;
      }
      if (Date.now() - started < POLL_GIVE_UP_MS) setTimeout(poll, POLL_MS);
    }
    setTimeout(poll, POLL_MS);
  }

  // Sign kind/payload at the account's next nonce and submit; returns the hash or throws.
  async function signAndSubmit(kind, payload) {
    const account = await api("/api/v1/accounts/" + address + "/");
    if (account.status === 404) throw new Error(gettext("Your account is not on the ledger yet: it starts with your first top-up or incoming transfer."));
    if (account.status !== 200) throw new Error(refusalText(account));
    const unsigned = { chain_id: chainId, sender: address, nonce: account.body.next_nonce, kind: kind, payload: payload };
    const bytes = txSigningBytes(unsigned);
    const signature = bytesToHex(await ed.signAsync(bytes, seed));
    const answer = await api("/api/v1/transactions/", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(Object.assign({}, unsigned, { signature: signature })),
    });
    if (answer.status !== 202) throw new Error(refusalText(answer));
    const hash = await sha256Hex(bytes);
    if (answer.body.hashes[0] !== hash) throw new Error(gettext("The site reports another hash than this browser signed."));
    return hash;
  }

  function onSubmit(form, build, label) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const error = form.querySelector("[data-error]");
      const button = form.querySelector("button[type=submit]");
      error.textContent = "";
      button.disabled = true;
      try {
        const payload = build(form.elements);
        const hash = await signAndSubmit(form.dataset.kind, payload);
        track(hash, label(payload));
        form.reset();
      } catch (e) {
        error.textContent = e.message;
      } finally {
        button.disabled = seed === null;
        toggleSource();
      }
    });
  }

  function units(text, decimals, what) {
    const value = decimalToUnits(text, decimals);
    if (value === null || value <= 0) {
      throw new Error(interpolate(gettext("Enter %(what)s as a positive number with at most %(decimals)s decimals."), { what: what, decimals: decimals }, true));
    }
    return value;
  }

  onSubmit(document.getElementById("sc-transfer"), function (f) {
    const to = f.to.value.trim();
    if (!/^[0-9a-f]{64}$/.test(to)) throw new Error(gettext("An address is 64 characters, 0-9 and a-f."));
    const payload = { to: to, amount: units(f.amount.value, TOKEN_DECIMALS, gettext("the amount in tokens")) };
    if (f.memo.value) payload.memo = f.memo.value;
    return payload;
  }, function (p) { return interpolate(gettext("transfer of %(amount)s tokens"), { amount: p.amount / 1e6 }, true); });

  onSubmit(document.getElementById("sc-order"), function (f) {
    if (!f.delivery_slot.value) throw new Error(gettext("Choose a delivery slot."));
    const payload = {
      side: f.side.value,
      energy_wh: units(f.energy_kwh.value, WH_DECIMALS, gettext("the energy in kWh")),
      price_per_kwh: units(f.price.value, TOKEN_DECIMALS, gettext("the price in tokens per kWh")),
      zone: f.zone.value,
      delivery_slot: Number(f.delivery_slot.value),
    };
    if (payload.side === "sell") payload.source = f.source.value;
    else payload.sources = "any";
    const counterparty = f.counterparty.value.trim().toLowerCase();
    if (counterparty) {
      if (!/^[0-9a-f]{64}$/.test(counterparty)) throw new Error(gettext("Only with: an address is 64 characters, 0-9 and a-f."));
      if (counterparty === address) throw new Error(gettext("Only with: that is your own address; name the other party's, or leave it empty."));
      payload.counterparty = counterparty;
    }
    return payload;
  }, function (p) {
    const text = p.side === "sell" ? gettext("sell order of %(kwh)s kWh") : gettext("buy order of %(kwh)s kWh");
    return interpolate(text, { kwh: p.energy_wh / 1000 }, true);
  });

  onSubmit(document.getElementById("sc-stake"), function (f) {
    document.getElementById("sc-stake").dataset.kind = f.kind.value;
    return { amount: units(f.amount.value, TOKEN_DECIMALS, gettext("the amount in tokens")) };
  }, function (p) {
    const text = document.getElementById("sc-stake").dataset.kind === "stake_bond" ? gettext("bond of %(amount)s tokens") : gettext("unbond of %(amount)s tokens");
    return interpolate(text, { amount: p.amount / 1e6 }, true);
  });

  onSubmit(document.getElementById("sc-vote"), function (f) {
    if (!/^[0-9a-f]{64}$/.test(f.proposal_id.value)) throw new Error(gettext("Choose a proposal open for votes."));
    return { proposal_id: f.proposal_id.value, option: f.option.value };
  }, function (p) { return interpolate(gettext("vote %(option)s on proposal #%(number)s"), { option: p.option, number: proposalNumbers[p.proposal_id] }, true); });

  onSubmit(document.getElementById("sc-propose"), function (f) {
    const title = f.title.value.trim();
    if (!title) throw new Error(gettext("Give the proposal a title."));
    const payload = { title: title, action: f.action.value };
    const description = f.description.value.trim();
    if (description) payload.description = description;
    if (payload.action === "param_change") {
      if (!/^[a-z_]{1,64}$/.test(f.param.value.trim())) throw new Error(gettext("Name the parameter as the chain does, e.g. gate_closure_minutes."));
      if (!/^(0|[1-9][0-9]{0,15})$/.test(f.value.value.trim())) throw new Error(gettext("The new value is a whole number of 0 or more."));
      payload.param = f.param.value.trim();
      payload.value = Number(f.value.value.trim());
    }
    return payload;
  }, function (p) { return interpolate(gettext("proposal \u201c%(title)s\u201d"), { title: p.title }, true); });

  onSubmit(document.getElementById("sc-cashout"), function (f) {
    return { amount: units(f.amount.value, TOKEN_DECIMALS, gettext("the amount in tokens")) };
  }, function (p) { return interpolate(gettext("cash-out of %(amount)s tokens"), { amount: p.amount / 1e6 }, true); });

  const actionSelect = document.getElementById("sc-propose-action");
  function toggleParam() { document.getElementById("sc-propose-param-box").hidden = actionSelect.value !== "param_change"; }
  actionSelect.addEventListener("change", toggleParam);
  toggleParam();

  const proposalNumbers = {};
  async function loadProposals() {
    const answer = await api("/api/v1/governance/proposals/?status=open");
    const select = document.getElementById("sc-vote-proposal");
    select.replaceChildren();
    const open = Array.isArray(answer.body) ? answer.body : [];
    const none = document.createElement("option");
    none.value = "";
    none.textContent = open.length ? gettext("Choose a proposal") : gettext("No proposal is open for votes");
    select.append(none);
    open.forEach(function (proposal) {
      proposalNumbers[proposal.proposal_id] = proposal.number;
      const option = document.createElement("option");
      option.value = proposal.proposal_id;
      option.textContent = "#" + proposal.number + " " + proposal.title;
      select.append(option);
    });
  }

  const sideSelect = document.getElementById("sc-order-side");
  function toggleSource() { document.getElementById("sc-order-source-box").hidden = sideSelect.value !== "sell"; }
  sideSelect.addEventListener("change", toggleSource);
  toggleSource();

  async function loadSlots() {
    const answer = await api("/api/v1/market/");
    const select = document.getElementById("sc-order-slot");
    select.replaceChildren();
    ((answer.body && answer.body.slots) || []).forEach(function (slot) {
      const option = document.createElement("option");
      option.value = String(slot.slot_ms);
      option.textContent = window.GTX && window.GTX.time
        ? window.GTX.time(slot.slot_ms, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })
        : new Date(slot.slot_ms).toISOString();
      select.append(option);
    });
  }

  async function refreshOrders() {
    const answer = await api("/api/v1/market/orders/?account=" + address + "&status=open");
    const list = document.getElementById("sc-orders-list");
    list.replaceChildren();
    const orders = Array.isArray(answer.body) ? answer.body : [];
    document.getElementById("sc-orders-empty").hidden = orders.length > 0;
    orders.forEach(function (order) {
      const item = document.createElement("li");
      item.dataset.orderId = order.order_id;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "outline secondary small";
      button.textContent = gettext("Cancel");
      button.disabled = seed === null;
      button.addEventListener("click", async function () {
        button.disabled = true;
        const error = document.getElementById("sc-orders-error");
        error.textContent = "";
        try {
          track(await signAndSubmit("order_cancel", { order_id: order.order_id }), interpolate(gettext("cancel of %(order)s"), { order: order.order_id.slice(0, 8) }, true));
        } catch (e) {
          error.textContent = e.message;
          button.disabled = false;
        }
      });
      const text = order.side === "sell" ? gettext("sell %(kwh)s kWh at %(price)s GTX/kWh") : gettext("buy %(kwh)s kWh at %(price)s GTX/kWh");
      const deal = order.counterparty ? " " + interpolate(gettext("only with %(account)s…"), { account: order.counterparty.slice(0, 8) }, true) : "";
      item.append(interpolate(text, { kwh: order.remaining_wh / 1000, price: order.price_per_kwh / 1e6 }, true) + deal + " ", button);
      list.append(item);
    });
  }

  showKey().then(refreshOrders);
  loadSlots();
  loadProposals();
}

const signup = document.getElementById("self-custody-signup");
if (signup) setUpSignup(signup);
const panel = document.getElementById("self-custody");
if (panel) setUpWallet(panel);
