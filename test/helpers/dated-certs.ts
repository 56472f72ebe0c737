// Certificates with chosen validity periods, made by openssl in a folder: `openssl ca` takes any
// start and end date (-startdate/-enddate), so a test can hold a certificate that expired yesterday,
// one that is valid only from tomorrow, or an intermediate CA that expires before its leaf.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DAY_MS = 86_400_000;

/** A moment `n` days from now (negative: ago). */
export const daysFromNow = (n: number): Date => new Date(Date.now() + n * DAY_MS);

export interface Validity {
  /** Default: a day ago. */
  readonly notBefore?: Date;
  readonly notAfter: Date;
}

export interface Issued {
  /** PEM file of the certificate. */
  readonly cert: string;
  /** PEM file of its private key. */
  readonly key: string;
  readonly commonName: string;
}

export interface Authority extends Issued {
  /** A server certificate for localhost and 127.0.0.1 (or `altNames`), signed by this CA; or a client certificate. */
  issue(name: string, validity: Validity, altNames?: string, purpose?: 'serverAuth' | 'clientAuth'): Issued;
  /** An intermediate CA signed by this one. */
  intermediate(name: string, validity: Validity): Authority;
}

export interface DatedCertificates {
  /** A self-signed root CA. */
  root(name: string, validity: Validity): Authority;
  /** A self-signed server certificate for localhost and 127.0.0.1 (no CA behind it). */
  selfSigned(name: string, validity: Validity): Issued;
}

const CA_CONFIG = `[ ca ]
default_ca = dated
[ dated ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
`;
const CA_EXTENSIONS = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n';
const leafExtensions = (altNames: string, purpose = 'serverAuth') => `subjectAltName=${altNames}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${purpose}\n`;
const LOCALHOST = 'DNS:localhost,IP:127.0.0.1';

/** openssl's GeneralizedTime: 20260102030405Z. */
const asn1Time = (date: Date) => `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

/** Reads the PEM files of certificates (a leaf, then its intermediates) into one chain to serve. */
export function chainOf(...issued: Issued[]): Buffer {
  return Buffer.concat(issued.map((i) => readFileSync(i.cert)));
}

export function datedCertificates(dir: string): DatedCertificates {
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

  const sign = (name: string, validity: Validity, extensions: string, issuer: Issued | undefined): Issued => {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    const by = issuer ? ['-cert', issuer.cert, '-keyfile', issuer.key] : ['-selfsign', '-keyfile', `${name}.key`];
    const dates = ['-startdate', asn1Time(validity.notBefore ?? daysFromNow(-1)), '-enddate', asn1Time(validity.notAfter)];
    openssl(['ca', '-config', 'ca.cnf', '-batch', '-notext', ...by, '-in', `${name}.csr`, '-out', `${name}.crt`, ...dates, '-extfile', `${name}.ext`]);
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), commonName: name };
  };

  const authority = (self: Issued): Authority => ({
    ...self,
    issue: (name, validity, altNames = LOCALHOST, purpose = 'serverAuth') => sign(name, validity, leafExtensions(altNames, purpose), self),
    intermediate: (name, validity) => authority(sign(name, validity, CA_EXTENSIONS, self)),
  });

  return {
    root: (name, validity) => authority(sign(name, validity, CA_EXTENSIONS, undefined)),
    selfSigned: (name, validity) => sign(name, validity, leafExtensions(LOCALHOST), undefined),
  };
}
