// The one description of the config file: the validator (zod) and config.schema.json (generated
// from it by `npm run schema`) both come from here, so they cannot disagree.
import { z } from 'zod';
import type { CheckKind } from '../check.js';
import { DURATION_PATTERN, readDuration } from './duration.js';

/**
 * A duration key: the pattern (also in config.schema.json), then the value's bounds — whole
 * milliseconds, at least 1 ms (or 0 with allowZero), at most what a timer can hold. Every duration
 * key of the config is one of these.
 */
export const duration = ({ allowZero = false }: { allowZero?: boolean } = {}) =>
  z
    .string()
    .regex(DURATION_PATTERN, { message: 'must be a duration such as 250ms, 2s, 1m or 1m30s' })
    .superRefine((value, ctx) => {
      // A value that is not a duration at all is reported by the pattern above.
      if (!DURATION_PATTERN.test(value.trim())) return;
      const { problem } = readDuration(value, { allowZero });
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    });

const threshold = () => z.number().int().min(1).max(100);
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const GROUP_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

export const serverSchema = z
  .strictObject({
    host: z.string().min(1).describe('Listen address. Default :: (IPv6 and IPv4; 0.0.0.0 where IPv6 is off).'),
    port: z.number().int().min(0).max(65535).describe('Listen port; 0 picks a free one (logged at start). Default 9898.'),
    maxConnections: z.number().int().min(1).describe('Open connections at most; beyond it the longest-waiting idle one is closed. Default 256.'),
    drainDelay: duration({ allowZero: true }).describe('After SIGTERM: every group but live fails at once, liveness and metrics answer this long. Default 5s.'),
    drainMode: z
      .enum(['delay', 'requests'])
      .describe('delay: answer for the whole drainDelay (classic sidecar). requests: exit once no request is in flight, at most drainDelay (native sidecar, whose app has already stopped). Default delay.'),
    exposeDetails: z.boolean().describe('Show per-check entries to every caller. Default false: only to loopback callers (see trustLoopback) and bearers of the details token.'),
    trustLoopback: z.boolean().describe('Loopback callers see details. false behind a reverse proxy in the pod, where every caller is loopback. Default true.'),
    detailsTokenFile: z.string().min(1).describe('File with a bearer token that unlocks details when exposeDetails is false; watched for changes.'),
    serviceId: z.string().min(1).describe('serviceId of health bodies. Default the host name.'),
    description: z.string().describe('description of health bodies.'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).describe('Default info.'),
  })
  .partial();

export const defaultsSchema = z
  .strictObject({
    interval: duration().describe('Time between attempts. Default 10s.'),
    timeout: duration().describe('Hard deadline of one attempt; at most interval. Default 2s.'),
    failureThreshold: threshold().describe('Consecutive failures before a check turns failing. Default 1.'),
    successThreshold: threshold().describe('Consecutive successes before a check turns passing. Default 1.'),
  })
  .partial();

/** Keys every check has, whatever its type. */
export const commonCheckShape = {
  interval: duration().optional().describe('Time between attempts. Default defaults.interval.'),
  timeout: duration().optional().describe('Hard deadline of one attempt. Default defaults.timeout.'),
  staleAfter: duration().optional().describe('A result older than this counts as failing. Default three intervals.'),
  critical: z.boolean().optional().describe('false: a failure makes its groups warn, not fail. Default true.'),
  groups: z
    .array(z.string().regex(GROUP_PATTERN, { message: 'must be lower-case letters, digits, - and _' }))
    .optional()
    .describe('The /health/<group> endpoints it counts toward. Default [ready].'),
  failureThreshold: threshold().optional(),
  successThreshold: threshold().optional(),
};

// One schema per kind, built once: zod compiles a schema on its first use, which costs far more
// than validating one check (a config of thousands of checks would compile it thousands of times).
const checkSchemas = new WeakMap<CheckKind, ReturnType<typeof buildCheckSchema>>();

export function checkSchema(kind: CheckKind) {
  let schema = checkSchemas.get(kind);
  if (!schema) checkSchemas.set(kind, (schema = buildCheckSchema(kind)));
  return schema;
}

function buildCheckSchema(kind: CheckKind) {
  const schema = z.strictObject({
    type: z.literal(kind.type),
    ...commonCheckShape,
    ...kind.options.shape,
  });
  // A kind's rules between its own options (its refinements) hold in the whole block too.
  const rules = (kind.options.def.checks ?? []) as unknown as z.core.$ZodCheck<z.output<typeof schema>>[];
  return rules.length ? schema.check(...rules) : schema;
}

export const checkNamePattern = NAME_PATTERN;

/** The whole document, for config.schema.json. */
export function configSchema(kinds: readonly CheckKind[]) {
  const [first, ...rest] = kinds.map(checkSchema);
  return z.strictObject({
    server: serverSchema.optional(),
    defaults: defaultsSchema.optional(),
    checks: z.record(z.string().regex(NAME_PATTERN), z.discriminatedUnion('type', [first!, ...rest])).optional(),
  });
}

export function configJsonSchema(kinds: readonly CheckKind[]): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema(kinds), { io: 'input', unrepresentable: 'any', target: 'draft-07' });
  return { ...schema, title: 'vigil configuration' };
}
