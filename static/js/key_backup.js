// Wallet key backups in the browser: the same file as chain/services/key_backup.py writes and
// reads (docs/SECURITY.md, "Wallet key backups"), so a self-custody key saved here can be
// loaded in another browser or imported at any site, and a site's export can be loaded here.
//
// argon2id (libsodium's crypto_pwhash: one lane, memlimit in bytes = m KiB x 1024) and
// XChaCha20-Poly1305 (IETF) are @noble/hashes and @noble/ciphers from npm, served from
// node_modules by staticfiles (settings.STATICFILES_DIRS), never a CDN.
import { argon2idAsync } from "../vendor/noble-hashes/argon2.js";
import { xchacha20poly1305 } from "../vendor/noble-ciphers/chacha.js";
import { asciiBytes, bytesToHex, hexToBytes } from "./gtx_protocol.js";

const FORMAT = "gridtokenx-wallet-backup";
const KDF = "argon2id";
const CIPHER = "xchacha20poly1305-ietf";
const EXPORT_OPSLIMIT = 3;
const EXPORT_MEMLIMIT = 64 * 1024 * 1024;
// What a file may ask for, as the site accepts (chain.services.key_backup.KDF_BOUNDS).
const BOUNDS = { opslimit: [1, 4], memlimit: [8 * 1024 * 1024, 128 * 1024 * 1024] };
export const MAX_BACKUP_BYTES = 2048;
export const MIN_PASSPHRASE_CHARS = 12;
const ASSOCIATED_DATA = "GRIDTOKENX/WALLET-BACKUP/V1\n";

export class BackupError extends Error {}

// The page's catalog (Django's JavaScriptCatalog, loaded by base.html) translates what people read.
const gettext = globalThis.gettext || function (text) { return text; };
const interpolate = globalThis.interpolate || function (text, values) {
  return text.replace(/%\((\w+)\)s/g, function (_match, name) { return String(values[name]); });
};

function deriveKey(passphrase, salt, opslimit, memlimit) {
  return argon2idAsync(new TextEncoder().encode(passphrase), salt, {
    t: opslimit, m: memlimit / 1024, p: 1, dkLen: 32, asyncTick: 20,
  });
}

function exactKeys(value, keys, where) {
  const ok = value !== null && typeof value === "object" && !Array.isArray(value)
    && Object.keys(value).length === keys.length && keys.every((k) => Object.hasOwn(value, k));
  if (!ok) throw new BackupError("The file's " + where + " must have exactly: " + keys.slice().sort().join(", ") + ".");
  return value;
}

function hexField(value, size, name) {
  if (typeof value !== "string" || value.length !== 2 * size || !/^[0-9a-f]+$/.test(value)) {
    throw new BackupError("The file's " + name + " must be " + 2 * size + " lowercase hex characters.");
  }
  return hexToBytes(value);
}

// The backup file of ``seed`` (32 bytes, the key of ``address``) under ``passphrase``.
export async function backupEncode(seed, address, passphrase) {
  if (passphrase.length < MIN_PASSPHRASE_CHARS) {
    throw new BackupError(interpolate(gettext("Choose a passphrase of %(chars)s characters or more."), { chars: MIN_PASSPHRASE_CHARS }, true));
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const key = await deriveKey(passphrase, salt, EXPORT_OPSLIMIT, EXPORT_MEMLIMIT);
  const sealed = xchacha20poly1305(key, nonce, asciiBytes(ASSOCIATED_DATA + address)).encrypt(seed);
  return JSON.stringify({
    format: FORMAT,
    version: 1,
    address: address,
    kdf: { name: KDF, opslimit: EXPORT_OPSLIMIT, memlimit: EXPORT_MEMLIMIT, salt: bytesToHex(salt) },
    cipher: { name: CIPHER, nonce: bytesToHex(nonce), ciphertext: bytesToHex(sealed) },
  }, null, 2) + "\n";
}

// The address and seed in backup ``text``; checked field by field before any key is derived.
export async function backupOpen(text, passphrase) {
  if (text.length > MAX_BACKUP_BYTES) throw new BackupError(interpolate(gettext("A wallet backup is at most %(bytes)s bytes."), { bytes: MAX_BACKUP_BYTES }, true));
  let doc;
  try { doc = JSON.parse(text); } catch (e) { throw new BackupError(gettext("This file is not a GridTokenX wallet backup (not JSON).")); }
  exactKeys(doc, ["format", "version", "address", "kdf", "cipher"], "document");
  if (doc.format !== FORMAT || doc.version !== 1) throw new BackupError(gettext("This file is not a GridTokenX wallet backup of version 1."));
  if (typeof doc.address !== "string" || !/^[0-9a-f]{64}$/.test(doc.address)) throw new BackupError("The file's address must be 64 lowercase hex characters.");
  const kdf = exactKeys(doc.kdf, ["name", "opslimit", "memlimit", "salt"], "kdf");
  const cipher = exactKeys(doc.cipher, ["name", "nonce", "ciphertext"], "cipher");
  if (kdf.name !== KDF || cipher.name !== CIPHER) throw new BackupError("Only " + KDF + " with " + CIPHER + " is read.");
  for (const [name, [low, high]] of Object.entries(BOUNDS)) {
    if (!Number.isInteger(kdf[name]) || kdf[name] < low || kdf[name] > high) {
      throw new BackupError("The file's kdf " + name + " must be a whole number from " + low + " to " + high + ".");
    }
  }
  const salt = hexField(kdf.salt, 16, "kdf salt");
  const nonce = hexField(cipher.nonce, 24, "cipher nonce");
  const ciphertext = hexField(cipher.ciphertext, 48, "ciphertext");
  const key = await deriveKey(passphrase, salt, kdf.opslimit, kdf.memlimit);
  try {
    const seed = xchacha20poly1305(key, nonce, asciiBytes(ASSOCIATED_DATA + doc.address)).decrypt(ciphertext);
    return { address: doc.address, seed: seed };
  } catch (e) {
    throw new BackupError(gettext("The passphrase does not open this backup, or the file was changed."));
  }
}
