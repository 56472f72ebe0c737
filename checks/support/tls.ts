// The TLS options block every TLS-speaking kind offers (`tls:` of http, redis and the types to
// come), and reading the PEM files a kind names: at every attempt, so a rotated certificate applies
// at the next one, bounded and regular files only. A problem with a file is a `tls` failure.
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { CheckError } from '../../src/errors.js';
import { readSmallFile } from './read-file.js';

/** Most bytes of a certificate or key file. */
const MAX_PEM_BYTES = 1024 * 1024;

/** The `tls:` block's keys, for a kind's options shape. */
export const tlsBlock = z
  .strictObject({
    caFile: z.string().min(1).optional().describe('PEM file of the certificate authorities to trust, instead of the system ones.'),
    certFile: z.string().min(1).optional().describe('PEM file of the client certificate (mutual TLS); with keyFile.'),
    keyFile: z.string().min(1).optional().describe('PEM file of the client certificate\'s private key; with certFile.'),
    serverName: z.string().min(1).optional().describe('The name sent as SNI and checked against the certificate. Default the host of the URL.'),
    insecureSkipVerify: z.boolean().optional().describe('Accept any certificate, of anyone. Default false.'),
  })
  .superRefine((block, ctx) => {
    if ((block.certFile === undefined) !== (block.keyFile === undefined)) {
      const [given, missing] = block.certFile === undefined ? ['keyFile', 'certFile'] : ['certFile', 'keyFile'];
      ctx.addIssue({ code: 'custom', path: [given], input: block[given as 'certFile' | 'keyFile'], message: `needs ${missing} as well` });
    }
  });
export type TlsBlock = z.output<typeof tlsBlock>;

/**
 * Reads PEM files named by a kind's settings; `files` maps each role as the user wrote it (caFile,
 * sslrootcert, …) to its path. A file that cannot be read fails the attempt with `tls`, naming it.
 */
export async function readPemFiles<Role extends string>(files: Readonly<Record<Role, string | undefined>>, target: string): Promise<Record<Role, Buffer | undefined>> {
  const entries = await Promise.all(
    (Object.entries(files) as [Role, string | undefined][]).map(async ([role, path]): Promise<[Role, Buffer | undefined]> => {
      if (path === undefined) return [role, undefined];
      try {
        return [role, await readSmallFile(path, MAX_PEM_BYTES)];
      } catch (error) {
        throw new CheckError('tls', `${target}: cannot read ${role} ${path}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  return Object.fromEntries(entries) as Record<Role, Buffer | undefined>;
}

/** Node's TLS options for a connection to `host` with a kind's `tls:` block (its files read now). */
export async function tlsConnectionOptions(block: TlsBlock | undefined, host: string, target: string): Promise<ConnectionOptions> {
  const { caFile: ca, certFile: cert, keyFile: key } = await readPemFiles({ caFile: block?.caFile, certFile: block?.certFile, keyFile: block?.keyFile }, target);
  const name = block?.serverName ?? host;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    // SNI carries names, never addresses (RFC 6066); the certificate is still checked against either.
    ...(isIP(name) ? {} : { servername: name }),
    ...(block?.serverName ? { checkServerIdentity: serverIdentityFor(block.serverName) } : {}),
    rejectUnauthorized: !block?.insecureSkipVerify,
  };
}

/** Checks the certificate against serverName rather than the host dialled. */
function serverIdentityFor(serverName: string): ConnectionOptions['checkServerIdentity'] {
  return (_host, certificate) => checkServerIdentity(serverName, certificate);
}
