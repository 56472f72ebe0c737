// The built-in heartbeat check type: not polled, but fed by the application (or a cron job, a queue
// consumer) through POST /heartbeat/<check>. It passes while the last successful beat is younger
// than its ttl and fails with heartbeat_missed at ttl (a timer, not the next poll); a beat may report
// a failure itself (reason reported), which fails at once and is not followed by a "missed" event.
import type { CheckKind, CheckResult } from './check.js';
import { readSecretFile } from './config/read-file.js';
import { formatDuration, parseDuration } from './config/duration.js';
import { duration } from './config/schema.js';
import type { CheckConfig } from './config/types.js';
import { CheckError } from './errors.js';
import { z } from 'zod';

export const HEARTBEAT_TYPE = 'heartbeat';

const options = z.strictObject({
  ttl: duration().describe('A heartbeat check passes while its last successful beat is younger than this; at ttl it fails with reason heartbeat_missed.'),
  grace: duration().optional().describe('After start (or after the check is added by a reload), how long it stays pending waiting for its first beat. Default its ttl.'),
  tokenFile: z
    .string()
    .min(1)
    .optional()
    .describe('File with the bearer token a POST /heartbeat/<check> for this check must carry; overrides server.heartbeatTokenFile. Watched for changes.'),
});
type HeartbeatOptions = z.output<typeof options>;

const optionsOf = (check: CheckConfig) => check.options as HeartbeatOptions;
const ttlOf = (check: CheckConfig) => parseDuration(optionsOf(check).ttl)!;
const graceOf = (check: CheckConfig) => parseDuration(optionsOf(check).grace ?? optionsOf(check).ttl)!;

/** The heartbeat check type, registered beside the checks/ registry as a pushed kind (src/kinds.ts). */
export const heartbeat: CheckKind = {
  type: HEARTBEAT_TYPE,
  componentType: 'component',
  options,
  schemes: [],
  // A beat's latency is the age of the last beat when recorded (0 for a beat); gapMs is the time
  // since the beat before it.
  observations: { latency: 'ms', gapMs: 'ms' },
  push: {
    periodMs: (values) => parseDuration((values as HeartbeatOptions).ttl)!,
    files: (values) => {
      const { tokenFile } = values as HeartbeatOptions;
      return tokenFile === undefined ? [] : [{ key: 'tokenFile', path: tokenFile }];
    },
  },
  // Never called: the scheduler and `vigil check` leave pushed checks alone.
  run: async (_options, ctx) => {
    throw new CheckError('unknown', `heartbeat check ${ctx.name} is fed by POST /heartbeat/${ctx.name}, not polled`);
  },
};

/** What a beat says: passing, or failing with the operator's words. */
export type Beat = { readonly ok: true } | { readonly ok: false; readonly output?: string };

/** A token file that cannot be read (or is empty): no caller is let in for those checks. */
export const UNREADABLE_TOKEN = Symbol('unreadable token');
export type Token = string | typeof UNREADABLE_TOKEN | undefined;

export interface Heartbeats {
  /** Starts waiting for a check's first beat (pending until then, or its grace); a check already known keeps its last beat. */
  add(check: CheckConfig): void;
  remove(name: string): void;
  /** Whether `name` is a heartbeat check. */
  has(name: string): boolean;
  /** Records a beat; nothing for a name that is not (or no longer) a heartbeat check. */
  beat(name: string, beat: Beat): void;
  /** The token that a beat for `name` must carry: the check's own, else the server-wide one; undefined for none. */
  tokenOf(name: string): Token;
  /** Every token currently in force, to mask in what callers send. */
  tokens(): readonly string[];
  /** Reads every token file again (at start and on every reload, which a change of one causes). */
  readTokens(serverTokenFile: string | undefined): { readonly file: string; readonly error: string }[];
  /** Stops every timer. */
  stop(): void;
}

export interface HeartbeatsOptions {
  /** Where results go: the same feed as every polled check's attempts. */
  readonly publish: (check: CheckConfig, result: CheckResult) => void;
  readonly now?: () => number;
  /** Reads a token file; default readSecretFile (bounded, regular files only). */
  readonly readFile?: (path: string) => string;
}

interface Tracked {
  check: CheckConfig;
  /** When the check was added: the first beat's latency counts from here. */
  readonly addedAt: number;
  /** The last successful beat, epoch ms. */
  lastBeatAt: number | undefined;
  /** waiting: no beat yet; beating: passing; missed: failed at ttl or grace; reported: a beat said it fails. */
  phase: 'waiting' | 'beating' | 'missed' | 'reported';
  timer: ReturnType<typeof setTimeout> | undefined;
  token: Token;
}

export function createHeartbeats(options: HeartbeatsOptions): Heartbeats {
  const now = options.now ?? Date.now;
  const readFile = options.readFile ?? readSecretFile;
  const tracked = new Map<string, Tracked>();
  let serverToken: Token;

  const readToken = (file: string): { token: Token; error?: string } => {
    try {
      const token = readFile(file).trim();
      return token ? { token } : { token: UNREADABLE_TOKEN, error: 'the file is empty' };
    } catch (error) {
      return { token: UNREADABLE_TOKEN, error: (error as Error).message };
    }
  };

  const missed = (entry: Tracked) => {
    entry.timer = undefined;
    entry.phase = 'missed';
    const at = now();
    const { check } = entry;
    const message =
      entry.lastBeatAt === undefined
        ? `no heartbeat within ${formatDuration(graceOf(check))} of start (grace)`
        : `no heartbeat for ${formatDuration(ttlOf(check))} (ttl); the last came at ${new Date(entry.lastBeatAt).toISOString()}`;
    options.publish(check, { ok: false, startedAt: at, durationMs: at - (entry.lastBeatAt ?? entry.addedAt), reason: 'heartbeat_missed', message });
  };

  /** Arms the timer that fails the check at `at` (epoch ms), unless a beat comes first. */
  const armAt = (entry: Tracked, at: number) => {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => missed(entry), Math.max(0, at - now()));
  };

  return {
    add(check) {
      const known = tracked.get(check.name);
      if (known) {
        // A changed definition: the last beat stays, and the new ttl counts from it.
        known.check = check;
        if (known.phase === 'beating') armAt(known, known.lastBeatAt! + ttlOf(check));
        else if (known.phase === 'waiting') armAt(known, known.addedAt + graceOf(check));
        known.token = check.options.tokenFile === undefined ? undefined : readToken(optionsOf(check).tokenFile!).token;
        return;
      }
      const entry: Tracked = { check, addedAt: now(), lastBeatAt: undefined, phase: 'waiting', timer: undefined, token: undefined };
      if (optionsOf(check).tokenFile !== undefined) entry.token = readToken(optionsOf(check).tokenFile!).token;
      tracked.set(check.name, entry);
      armAt(entry, entry.addedAt + graceOf(check));
    },
    remove(name) {
      clearTimeout(tracked.get(name)?.timer);
      tracked.delete(name);
    },
    has: (name) => tracked.has(name),
    beat(name, beat) {
      const entry = tracked.get(name);
      if (entry === undefined) return;
      const at = now();
      // Latency is the age of the last successful beat when the result is recorded: 0 for a beat
      // (which is also when it succeeded, for vigil_check_last_success_timestamp_seconds), the
      // age at a reported failure, the ttl at a miss. The gap since the previous beat is an observation.
      const ageMs = at - (entry.lastBeatAt ?? entry.addedAt);
      if (beat.ok) {
        entry.lastBeatAt = at;
        entry.phase = 'beating';
        armAt(entry, at + ttlOf(entry.check));
        options.publish(entry.check, { ok: true, startedAt: at, durationMs: 0, observation: { gapMs: ageMs } });
        return;
      }
      // Failing by its own word: at once, and no "missed" event follows (only a passing beat re-arms).
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.phase = 'reported';
      const message = beat.output ? `reported failing: ${beat.output}` : 'reported failing';
      options.publish(entry.check, { ok: false, startedAt: at, durationMs: ageMs, reason: 'reported', message });
    },
    tokenOf(name) {
      return tracked.get(name)?.token ?? serverToken;
    },
    tokens() {
      const all: string[] = [];
      for (const token of [serverToken, ...[...tracked.values()].map((entry) => entry.token)]) if (typeof token === 'string') all.push(token);
      return all;
    },
    readTokens(serverTokenFile) {
      const errors: { file: string; error: string }[] = [];
      const read = (file: string) => {
        const { token, error } = readToken(file);
        if (error !== undefined) errors.push({ file, error });
        return token;
      };
      serverToken = serverTokenFile === undefined ? undefined : read(serverTokenFile);
      for (const entry of tracked.values()) {
        const file = optionsOf(entry.check).tokenFile;
        entry.token = file === undefined ? undefined : read(file);
      }
      return errors;
    },
    stop() {
      for (const entry of tracked.values()) clearTimeout(entry.timer);
      tracked.clear();
    },
  };
}
