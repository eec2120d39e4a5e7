import test from 'ava';
import crypto from 'node:crypto';
import tls from 'node:tls';
import {
  buildCrl, buildPkcs12, createCa, issueClientCertificate, loadCa, PkiError, publicKeyFromCsr, signingString,
  toPem, verifyClientCertificate, verifySignature, normalizeSerial, type Ca,
} from '../src/pki';
import { craftCertificate, csrFor, hasOpenssl, openssl, rsaKey } from './helpers';

const NOW = new Date();
let caMaterial: { certPem: string; keyPem: string };
let ca: Ca;
test.before(() => {
  caMaterial = createCa({ commonName: 'Test Accounts CA', keyBits: 3072, now: NOW, lifetimeDays: 3650 });
  ca = loadCa(caMaterial.certPem, caMaterial.keyPem);
});

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof PkiError) return e.code;
    throw e;
  }
  return 'accepted';
};

test('the CA is a CA: basicConstraints CA:true, keyCertSign and cRLSign, RSA 3072, self-signed', (t) => {
  const x = new crypto.X509Certificate(caMaterial.certPem);
  t.true(x.ca);
  t.is(x.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
  t.true(x.verify(x.publicKey));
  if (hasOpenssl()) {
    const r = openssl(['x509', '-in', 'ca.pem', '-noout', '-text'], { 'ca.pem': caMaterial.certPem });
    t.regex(r.out, /CA:TRUE/);
    t.regex(r.out, /Certificate Sign, CRL Sign/);
  }
});

test('loadCa refuses a leaf certificate as CA and a key that does not match', (t) => {
  const key = rsaKey(2048, 65537, 1);
  const leaf = craftCertificate({ subjectKey: key, issuerKey: key });
  t.is(code(() => loadCa(leaf, key.privateKeyPem)), 'ca_invalid');
  t.is(code(() => loadCa(caMaterial.certPem, key.privateKeyPem)), 'ca_invalid');
});

test('a certificate issued from a CSR verifies (ours and OpenSSL) with clientAuth, digitalSignature and a 16-byte serial', (t) => {
  const key = rsaKey();
  const spki = publicKeyFromCsr(csrFor(key));
  const issued = issueClientCertificate({ ca, publicKeyPem: spki, accountId: 'acc_123', now: NOW, lifetimeDays: 30 });
  t.is(issued.serial.length, 32);
  t.true(parseInt(issued.serial.slice(0, 2), 16) < 0x80);
  const v = verifyClientCertificate(issued.certPem, ca, NOW);
  t.is(v.serial, issued.serial);
  t.is(v.subjectCn, 'acc_123');
  const x = new crypto.X509Certificate(issued.certPem);
  t.false(x.ca);
  t.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  t.is(normalizeSerial(x.serialNumber), issued.serial);
  if (hasOpenssl()) {
    const r = openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslclient', 'leaf.pem'], { 'ca.pem': caMaterial.certPem, 'leaf.pem': issued.certPem });
    t.is(r.code, 0, r.out);
    const txt = openssl(['x509', '-in', 'leaf.pem', '-noout', '-text'], { 'leaf.pem': issued.certPem }).out;
    t.regex(txt, /Digital Signature/);
    t.regex(txt, /TLS Web Client Authentication/);
  }
});

test('CSRs with a small key, exponent 3, or a broken signature are refused', (t) => {
  t.is(code(() => publicKeyFromCsr(csrFor(rsaKey(1024)))), 'weak_key');
  t.is(code(() => publicKeyFromCsr(csrFor(rsaKey(2048, 3)))), 'weak_key');
  const good = csrFor(rsaKey());
  const lines = good.trim().split('\n');
  const body = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  body[body.length - 5] ^= 0xff;
  const tampered = toPem('CERTIFICATE REQUEST', body);
  t.is(code(() => publicKeyFromCsr(tampered)), 'csr_invalid');
  t.is(code(() => publicKeyFromCsr('not a csr')), 'csr_invalid');
  t.is(code(() => publicKeyFromCsr('x'.repeat(100_000))), 'csr_invalid');
});

test('verification matrix at the PKI level', (t) => {
  const key = rsaKey();
  const caKey = { privateKeyPem: caMaterial.keyPem, publicKeyPem: '' };
  const other = createCa({ commonName: 'Test Accounts CA', keyBits: 3072, now: NOW, lifetimeDays: 10 });
  const day = 86_400_000;
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey }), ca, NOW)), 'accepted');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, notAfter: new Date(NOW.getTime() - day) }), ca, NOW)), 'certificate_expired');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, notBefore: new Date(NOW.getTime() + day) }), ca, NOW)), 'certificate_not_yet_valid');
  // Same subject DN as our CA, other key.
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: other.certPem, issuerKey: { privateKeyPem: other.keyPem, publicKeyPem: '' } }), ca, NOW)), 'certificate_untrusted');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerKey: key }), ca, NOW)), 'certificate_untrusted');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, clientAuth: false }), ca, NOW)), 'certificate_not_client');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, digitalSignature: false }), ca, NOW)), 'certificate_not_client');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, ca: true }), ca, NOW)), 'certificate_not_client');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: rsaKey(1024), issuerCertPem: caMaterial.certPem, issuerKey: caKey }), ca, NOW)), 'certificate_weak_key');
  t.is(code(() => verifyClientCertificate(craftCertificate({ subjectKey: rsaKey(2048, 3), issuerCertPem: caMaterial.certPem, issuerKey: caKey }), ca, NOW)), 'certificate_weak_key');
  // A leaf of our CA without basicConstraints/keyUsage (accepted as a CA by forge < 1.4) signs another certificate.
  const bareLeaf = craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey, bare: true, subjectCn: 'leaf' });
  const grandChild = craftCertificate({ subjectKey: rsaKey(2048, 65537, 1), issuerCertPem: bareLeaf, issuerKey: key });
  t.is(code(() => verifyClientCertificate(grandChild, ca, NOW)), 'certificate_untrusted');
  // Malformed input.
  t.is(code(() => verifyClientCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', ca, NOW)), 'certificate_malformed');
  t.is(code(() => verifyClientCertificate(toPem('CERTIFICATE', crypto.randomBytes(900)), ca, NOW)), 'certificate_malformed');
  t.is(code(() => verifyClientCertificate(crypto.randomBytes(900), ca, NOW)), 'certificate_malformed');
  t.is(code(() => verifyClientCertificate('x'.repeat(10 * 1024 * 1024), ca, NOW)), 'certificate_too_large');
  // Trailing garbage after a valid certificate is not DER.
  const okDer = new crypto.X509Certificate(craftCertificate({ subjectKey: key, issuerCertPem: caMaterial.certPem, issuerKey: caKey })).raw;
  t.is(code(() => verifyClientCertificate(Buffer.concat([okDer, Buffer.from([0, 0])]), ca, NOW)), 'certificate_malformed');
});

test('the CRL is signed by the CA and lists revoked serials with reasons (checked by OpenSSL)', (t) => {
  const key = rsaKey();
  const a = issueClientCertificate({ ca, publicKeyPem: key.publicKeyPem, accountId: 'acc_a', now: NOW, lifetimeDays: 30 });
  const b = issueClientCertificate({ ca, publicKeyPem: key.publicKeyPem, accountId: 'acc_b', now: NOW, lifetimeDays: 30 });
  const der = buildCrl(ca, [{ serial: a.serial, revokedAt: NOW, reason: 'key_compromise' }], {
    thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + 3600_000), crlNumber: 7n,
  });
  const crlPem = toPem('X509 CRL', der);
  if (!hasOpenssl()) {
    t.pass('openssl is not installed: CRL structure not checked');
    return;
  }
  const r = openssl(['crl', '-in', 'crl.pem', '-CAfile', 'ca.pem', '-noout', '-text'], { 'crl.pem': crlPem, 'ca.pem': caMaterial.certPem });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /verify OK/);
  t.regex(r.out, new RegExp(a.serial.toUpperCase()));
  t.regex(r.out, /Key Compromise/);
  t.regex(r.out, /X509v3 CRL Number:\s*\n\s*7/);
  const files = { 'ca.pem': caMaterial.certPem, 'crl.pem': crlPem, 'a.pem': a.certPem, 'b.pem': b.certPem };
  const revoked = openssl(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'crl.pem', 'a.pem'], files);
  t.not(revoked.code, 0);
  t.regex(revoked.out, /certificate revoked/);
  t.is(openssl(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'crl.pem', 'b.pem'], files).code, 0);
});

test('PKCS#12: AES-256-CBC/PBKDF2-SHA256 key, SHA-256 MAC; TLS loads it with the password and refuses a wrong one', (t) => {
  const key = rsaKey();
  const issued = issueClientCertificate({ ca, publicKeyPem: key.publicKeyPem, accountId: 'acc_p12', now: NOW, lifetimeDays: 30 });
  const p12 = buildPkcs12({ privateKeyPem: key.privateKeyPem, certPem: issued.certPem, chainPems: [caMaterial.certPem], password: 'correct horse battery', iterations: 600_000, friendlyName: 'acc_p12' });
  t.notThrows(() => tls.createSecureContext({ pfx: p12, passphrase: 'correct horse battery' }));
  const err = t.throws(() => tls.createSecureContext({ pfx: p12, passphrase: 'wrong password!!' }));
  t.regex(String(err?.message), /mac verify|invalid password/i);
  t.false(p12.includes(Buffer.from(key.privateKeyPem.split('\n')[1]!, 'base64').subarray(0, 24)));
  if (hasOpenssl()) {
    const info = openssl(['pkcs12', '-in', 'b.p12', '-info', '-noout', '-passin', 'pass:correct horse battery'], { 'b.p12': p12 });
    t.is(info.code, 0, info.out);
    t.regex(info.out, /MAC: sha256, Iteration 600000/);
    t.regex(info.out, /PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256/);
    const bad = openssl(['pkcs12', '-in', 'b.p12', '-info', '-noout', '-passin', 'pass:nope'], { 'b.p12': p12 });
    t.not(bad.code, 0);
  }
});

test('signatures: PKCS#1 v1.5 and PSS over the signing string; any change breaks them', (t) => {
  const key = rsaKey();
  const data = signingString({ orderId: 'ord_1', amount: 1500, currency: 'RUB', nonce: 'n-1', signedAt: '2026-01-01T00:00:00Z' });
  t.is(data, 'ord_1\n1500\nRUB\nn-1\n2026-01-01T00:00:00Z');
  const pub = crypto.createPublicKey(key.publicKeyPem);
  const v15 = crypto.sign('sha256', Buffer.from(data), key.privateKeyPem);
  t.true(verifySignature(pub, data, v15, 'rsa-sha256'));
  t.false(verifySignature(pub, data.replace('1500', '1501'), v15, 'rsa-sha256'));
  t.false(verifySignature(pub, data, v15, 'rsa-pss-sha256'));
  const pss = crypto.sign('sha256', Buffer.from(data), { key: key.privateKeyPem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  t.true(verifySignature(pub, data, pss, 'rsa-pss-sha256'));
});
