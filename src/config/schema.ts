// The one description of the config file: the validator (zod) and config.schema.json (generated
// from it by `npm run schema`) both come from here, so they cannot disagree; each key's default and
// its description come from config/defaults.ts.
import { z } from 'zod';
import { observationsOf, type CheckKind } from '../check.js';
import { parseComparison } from '../observations.js';
import { CONFIG_DEFAULTS, describeDefault, describeInherited } from './defaults.js';
import { DURATION_PATTERN, readDuration } from './duration.js';

/**
 * A duration key: the pattern (also in config.schema.json), then the value's bounds — whole
 * milliseconds, at least 1 ms (or 0 with allowZero), at most what a timer can hold. Every duration
 * key of the config is one of these.
 */
export const duration = ({ allowZero = false }: { allowZero?: boolean } = {}) =>
  z
    .string({
      // A bare number says no unit: seconds or milliseconds? Asked in words, not as a type error.
      error: (issue) => (typeof issue.input === 'number' ? 'has no unit: write it as a duration such as 250ms, 2s, 1m or 1m30s' : undefined),
    })
    .regex(DURATION_PATTERN, { message: 'must be a duration such as 250ms, 2s, 1m or 1m30s' })
    .superRefine((value, ctx) => {
      // A value that is not a duration at all is reported by the pattern above.
      if (!DURATION_PATTERN.test(value.trim())) return;
      const { problem } = readDuration(value, { allowZero });
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    });

const threshold = () => z.number().int().min(1).max(100);
const connectionMode = () => z.enum(['fresh', 'persistent']);
const reconnectEvery = () => z.number().int().min(1).max(1_000_000);
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const GROUP_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

const { server, defaults, check } = CONFIG_DEFAULTS;

export const serverSchema = z
  .strictObject({
    host: z.string().min(1).describe(describeDefault(server.host)),
    port: z.number().int().min(0).max(65535).describe(describeDefault(server.port)),
    maxConnections: z.number().int().min(1).describe(describeDefault(server.maxConnections)),
    drainDelay: duration({ allowZero: true }).describe(describeDefault(server.drainDelay)),
    drainMode: z.enum(['delay', 'requests']).describe(describeDefault(server.drainMode)),
    exposeDetails: z.boolean().describe(describeDefault(server.exposeDetails)),
    trustLoopback: z.boolean().describe(describeDefault(server.trustLoopback)),
    detailsTokenFile: z.string().min(1).describe('File with a bearer token that unlocks details when exposeDetails is false; watched for changes.'),
    heartbeatTokenFile: z
      .string()
      .min(1)
      .describe('File with the bearer token every POST /heartbeat/<check> must carry (unless the check names its own tokenFile); without one, only loopback callers may post. Watched for changes.'),
    serviceId: z.string().min(1).describe(describeDefault(server.serviceId)),
    description: z.string().describe(describeDefault(server.description)),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).describe(describeDefault(server.logLevel)),
  })
  .partial();

export const defaultsSchema = z
  .strictObject({
    interval: duration().describe(describeDefault(defaults.interval)),
    timeout: duration().describe(describeDefault(defaults.timeout)),
    failureThreshold: threshold().describe(describeDefault(defaults.failureThreshold)),
    successThreshold: threshold().describe(describeDefault(defaults.successThreshold)),
    intervalWhenFailing: duration().describe(describeDefault(defaults.intervalWhenFailing)),
    connection: connectionMode().describe(describeDefault(defaults.connection)),
    reconnectEvery: reconnectEvery().describe(describeDefault(defaults.reconnectEvery)),
  })
  .partial();

/** Keys every check has, whatever its type. */
export const commonCheckShape = {
  interval: duration().optional().describe(describeInherited('interval')),
  timeout: duration().optional().describe(describeInherited('timeout')),
  staleAfter: duration().optional().describe(describeDefault(check.staleAfter)),
  critical: z.boolean().optional().describe(describeDefault(check.critical)),
  groups: z
    .array(z.string().regex(GROUP_PATTERN, { message: 'must be lower-case letters, digits, - and _' }))
    .optional()
    .describe(describeDefault(check.groups)),
  failureThreshold: threshold().optional().describe(describeInherited('failureThreshold')),
  successThreshold: threshold().optional().describe(describeInherited('successThreshold')),
  intervalWhenFailing: duration().optional().describe(describeInherited('intervalWhenFailing')),
  dependsOn: z
    .array(z.string().regex(NAME_PATTERN, { message: 'must be the name of a check' }))
    .optional()
    .describe(describeDefault(check.dependsOn)),
  // Each kind's schema narrows these to its own observation names (thresholdsOf).
  warnIf: z.record(z.string(), z.string()).optional().describe(describeDefault(check.warnIf)),
  failIf: z.record(z.string(), z.string()).optional().describe(describeDefault(check.failIf)),
  connection: connectionMode().optional().describe(describeInherited('connection')),
  reconnectEvery: reconnectEvery().optional().describe(describeInherited('reconnectEvery')),
};

/** warnIf/failIf of one kind: its observation names only, each with a comparison read in its unit. */
function thresholdsOf(kind: CheckKind, key: 'warnIf' | 'failIf') {
  const observations = observationsOf(kind);
  const names = Object.keys(observations);
  return z
    .record(z.string().meta({ enum: names }), z.string().min(1).meta({ pattern: COMPARISON_PATTERN }))
    .superRefine((given, ctx) => {
      for (const [name, text] of Object.entries(given)) {
        const unit = observations[name];
        if (unit === undefined) {
          ctx.addIssue({ code: 'custom', path: [name], input: name, message: `is not an observation of type ${kind.type} (known: ${names.join(', ')})` });
          continue;
        }
        const { problem } = parseComparison(name, text, unit);
        if (problem) ctx.addIssue({ code: 'custom', path: [name], input: text, message: problem });
      }
    })
    .optional()
    .describe(`${describeDefault(check[key])} Observations of ${kind.type}: ${names.join(', ')}.`);
}

/** What a comparison looks like, for config.schema.json (parseComparison says the rest). */
const COMPARISON_PATTERN = '^\\s*(<=|>=|==|!=|<|>)\\s*-?\\d+(\\.\\d+)?\\s*[a-z%]*\\s*$';

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
    warnIf: thresholdsOf(kind, 'warnIf'),
    failIf: thresholdsOf(kind, 'failIf'),
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
