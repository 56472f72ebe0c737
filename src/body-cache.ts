// Health bodies rendered once per change of state, not per request: one per group and per kind of
// caller (with or without details). The status is always exact; the per-check details may lag a
// new result by up to MIN_RERENDER_MS, so results landing many times a second do not each re-render.
import type { BodyMeta, RenderedHealth, RenderHealth } from './health.js';
import type { HealthStatus, State, Verdict } from './state.js';

/**
 * With many checks, results land many times a second; re-rendering every body on each would make
 * the agent's work (and its garbage) grow with the number of checks. Bodies are re-rendered at most
 * this often while their status is unchanged.
 */
export const MIN_RERENDER_MS = 100;

export interface BodyCacheOptions {
  readonly state: State;
  readonly render: RenderHealth;
  /** What every body says about the agent; a new object (a reload) re-renders every body. */
  readonly meta: () => BodyMeta;
  readonly now?: () => number;
}

export interface BodyCache {
  /** The body of `group` (undefined: every check), with or without the per-check details. */
  get(group: string | undefined, withDetails: boolean): RenderedHealth;
}

interface Cached {
  readonly body: RenderedHealth;
  readonly status: HealthStatus;
  /** The state version rendered. */
  readonly version: number;
  /** The state's statusVersion when this body's status was last confirmed. */
  checkedStatusVersion: number;
  readonly renderedAt: number;
  /**
   * When a result turns stale and the body with it, though no result landed. Brought forward when
   * the status is confirmed against a newer state (a check decided, a staleAfter changed since).
   */
  validUntil: number;
  readonly meta: BodyMeta;
}

export function createBodyCache(options: BodyCacheOptions): BodyCache {
  const { state, render } = options;
  const now = options.now ?? Date.now;
  // Two maps keyed by group rather than one keyed by a string made per request.
  const withDetails = new Map<string | undefined, Cached>();
  const withoutDetails = new Map<string | undefined, Cached>();

  const store = (cache: Map<string | undefined, Cached>, group: string | undefined, isDetailed: boolean, verdict: Verdict, at: number, meta: BodyMeta) => {
    const body = render(verdict, meta, isDetailed);
    cache.set(group, { body, status: verdict.status, version: state.version, checkedStatusVersion: state.statusVersion, renderedAt: at, validUntil: verdict.validUntil, meta });
    return body;
  };

  return {
    get(group, isDetailed) {
      const cache = isDetailed ? withDetails : withoutDetails;
      const at = now();
      const meta = options.meta();
      const hit = cache.get(group);
      if (hit && hit.meta === meta && at < hit.validUntil) {
        if (hit.version === state.version) return hit.body;
        if (at - hit.renderedAt < MIN_RERENDER_MS) {
          // A result landed right after the last render: the details wait, and the status is
          // re-derived only when some check's status changed (with many checks, results land
          // every few milliseconds, almost all of them changing nothing but details).
          if (hit.checkedStatusVersion === state.statusVersion) return hit.body;
          hit.checkedStatusVersion = state.statusVersion;
          const verdict = state.verdict(group, at);
          if (verdict.status !== hit.status) return store(cache, group, isDetailed, verdict, at, meta);
          // Same status, but the state may now turn stale sooner than when this body was rendered
          // (a check's first decision, a shorter staleAfter): the body holds no longer than that.
          hit.validUntil = Math.min(hit.validUntil, verdict.validUntil);
          return hit.body;
        }
      }
      return store(cache, group, isDetailed, state.verdict(group, at), at, meta);
    },
  };
}
