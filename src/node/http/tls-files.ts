/**
 * Reads a node's certificate and key (`nodes[].tls`, PEM files) once at start and checks them
 * before any socket opens: a missing, unreadable or non-PEM file, or a key that does not belong
 * to the certificate, stops the node with a ConfigError naming the key. Never logs key material.
 */
import { X509Certificate, createPrivateKey, createHash, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../../common';
import { ConfigError } from '../config';

export interface TlsFilesConfig {
  cert_file: string;
  key_file: string;
}

/** What node:tls needs, plus what the start banner and the operator want to see. */
export interface LoadedTls {
  /** The PEM chain, leaf first. */
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the leaf certificate, `AB:CD:...` (what browsers show). */
  fingerprint256: string;
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  spkiSha256: string;
  subjectAltName: string | undefined;
  validTo: Date;
}

/**
 * Loads `tls`; `keyPath` is where it sits in the config (e.g. `nodes[0].tls`), for the message.
 * Throws ConfigError; the issue's path is `<keyPath>.cert_file` or `<keyPath>.key_file`.
 */
export function loadTlsFiles(tls: TlsFilesConfig, keyPath: string): LoadedTls {
  const cert = readPem(tls.cert_file, `${keyPath}.cert_file`, 'certificate');
  const key = readPem(tls.key_file, `${keyPath}.key_file`, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw issue(`${keyPath}.cert_file`, `'${tls.cert_file}' holds no readable PEM certificate (${errorMessage(err)})`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    // The parser's message never contains the key itself.
    throw issue(`${keyPath}.key_file`, `'${tls.key_file}' holds no readable unencrypted PEM private key (${errorMessage(err)})`, err);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw issue(`${keyPath}.key_file`, `the key in '${tls.key_file}' does not belong to the certificate in '${tls.cert_file}'`);
  }
  const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert,
    key,
    fingerprint256: leaf.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
    subjectAltName: leaf.subjectAltName,
    validTo: new Date(leaf.validTo),
  };
}

function readPem(file: string, path: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : errorMessage(err);
    throw issue(path, `cannot read ${what} file '${file}': ${why}`, err);
  }
  if (!data.includes('-----BEGIN ')) throw issue(path, `'${file}' is not a PEM file (no -----BEGIN line)`);
  return data;
}

function issue(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError([{ path, message }], cause === undefined ? undefined : { cause });
}
