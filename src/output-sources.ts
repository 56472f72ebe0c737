// /metrics as a list of sources (the check series, the agent's own series, the process metrics,
// later the application's), each saying whether the part it rendered last still holds. A part is
// rendered again only when it changed, and the whole encoded again only when a part did.

export interface OutputSource {
  /** Whether the part rendered last still holds at `now` (epoch ms). Asked on every scrape: keep it cheap. */
  isCurrent(now: number): boolean;
  /** The source's part of the exposition, in Prometheus' text format. */
  render(now: number): string | Uint8Array | Promise<string | Uint8Array>;
}

export type RenderExposition = (now: number) => Promise<Uint8Array<ArrayBuffer>>;

const NEWLINE = new Uint8Array([0x0a]);

/** The sources' parts, in order, one per line block. */
export function composeSources(sources: readonly OutputSource[]): RenderExposition {
  const encoder = new TextEncoder();
  const parts: (Uint8Array | undefined)[] = sources.map(() => undefined);
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  return async (now) => {
    let hasChanged = false;
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!;
      if (parts[i] !== undefined && source.isCurrent(now)) continue;
      const part = await source.render(now);
      parts[i] = typeof part === 'string' ? encoder.encode(part) : part;
      hasChanged = true;
    }
    // Encoded once per change, not per scrape: flattening and encoding 160 KB cost more than the rest.
    if (hasChanged || !bytes) {
      const joined = Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part!] : [NEWLINE, part!])));
      bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength) as Uint8Array<ArrayBuffer>;
    }
    return bytes;
  };
}

/** A source that changes continuously (CPU, memory): rendered again at most every `ttlMs`. */
export function refreshedEvery(ttlMs: number, render: (now: number) => ReturnType<OutputSource['render']>): OutputSource {
  let renderedAt = -Infinity;
  return {
    isCurrent: (now) => now - renderedAt < ttlMs,
    render(now) {
      renderedAt = now;
      return render(now);
    },
  };
}
