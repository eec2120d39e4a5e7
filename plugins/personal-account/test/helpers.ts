/** Helpers for building keys, CSRs and odd certificates in tests (Node generates keys; forge builds the ASN.1). */
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';

export interface TestKey { privateKeyPem: string; publicKeyPem: string }

const keyCache = new Map<string, TestKey>();
/** An RSA key pair from Node; cached per (bits, exponent, slot) so each test file makes only a few. */
export function rsaKey(bits = 2048, publicExponent = 65537, slot = 0): TestKey {
  const k = `${bits}/${publicExponent}/${slot}`;
  let key = keyCache.get(k);
  if (!key) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: bits, publicExponent,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    key = { privateKeyPem: privateKey, publicKeyPem: publicKey };
    keyCache.set(k, key);
  }
  return key;
}

export function csrFor(key: TestKey, cn = 'holder'): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: cn }]);
  csr.sign(forge.pki.privateKeyFromPem(key.privateKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

export interface CraftOptions {
  subjectKey: TestKey;
  /** Signer: its certificate (for the issuer DN) and key; omitted → self-signed. */
  issuerCertPem?: string;
  issuerKey: TestKey;
  subjectCn?: string;
  notBefore?: Date;
  notAfter?: Date;
  clientAuth?: boolean;
  digitalSignature?: boolean;
  ca?: boolean;
  /** Omit basicConstraints and keyUsage entirely (the CVE-2026-33896 shape). */
  bare?: boolean;
  serial?: string;
}

/** A certificate with whatever properties a test needs, signed by Node with the given issuer key. */
export function craftCertificate(o: CraftOptions): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(o.subjectKey.publicKeyPem);
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  cert.serialNumber = o.serial ?? serial.toString('hex');
  cert.validity.notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = o.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
  const subject = [{ name: 'commonName', value: o.subjectCn ?? 'acc_test' }];
  cert.setSubject(subject);
  cert.setIssuer(o.issuerCertPem ? forge.pki.certificateFromPem(o.issuerCertPem).subject.attributes : subject);
  const ext: unknown[] = [];
  if (!o.bare) {
    ext.push({ name: 'basicConstraints', cA: o.ca ?? false, critical: true });
    ext.push(o.ca ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: o.digitalSignature ?? true, keyEncipherment: !(o.digitalSignature ?? true), critical: true });
  }
  if (o.clientAuth ?? true) ext.push({ name: 'extKeyUsage', clientAuth: true });
  else ext.push({ name: 'extKeyUsage', serverAuth: true });
  cert.setExtensions(ext as never);
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: unknown): forge.asn1.Asn1 }).getTBSCertificate(cert);
  (cert as unknown as { tbsCertificate: unknown }).tbsCertificate = tbs;
  const sig = crypto.sign('sha256', Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), o.issuerKey.privateKeyPem);
  cert.signature = sig.toString('binary');
  return forge.pki.certificateToPem(cert);
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Runs openssl with files written to a temp directory; returns {code, out} (stdout + stderr). */
export function openssl(args: string[], files: Record<string, string | Buffer>): { code: number; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const r = spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    return { code: r.status ?? 1, out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
