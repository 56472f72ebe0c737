// `vigil --help`: the usage text. The URL schemes of environment-only mode come from the registry
// of kinds, so a new check type appears here without a change to this file.
import type { CheckKind } from '../check.js';

const WIDTH = 100;

const USAGE = `vigil — health and metrics sidecar for an application's dependencies

Usage:
  vigil serve    [-c FILE] [-p PORT] [--host ADDR] [LOG]    run the agent (the default command)
  vigil check    [-c FILE] [-w DURATION] [--json] [LOG]     run every check once (or until all critical
                                                             checks pass, up to DURATION); exit 0 when
                                                             all critical checks pass, 1 otherwise
  vigil validate [-c FILE]                                  exit 0 when the config is valid, 2 otherwise
  vigil probe    [URL|PATH] [-c FILE] [-t DURATION]         GET URL, or PATH (default /health/live) of
                                                             the local agent where it listens (as
                                                             FILE, VIGIL_CONFIG and VIGIL_PORT say);
                                                             exit 0 on 2xx, 1 otherwise
  vigil schema                                              print the JSON Schema of the config file
  vigil -h | --help | --version

Options:
  -c, --config FILE        the config file (default VIGIL_CONFIG; without one, the environment alone)
  -p, --port N             listen port, 0 for a free one (overrides VIGIL_PORT and server.port)
      --host ADDR          listen address (overrides VIGIL_HOST and server.host)
  -w, --wait DURATION      check: retry the failing checks for up to DURATION (such as 30s or 2m)
      --json               check: print the report as JSON
  -t, --timeout DURATION   probe: give up after DURATION (default 5s)
  LOG: --log-level LEVEL   debug, info, warn or error (overrides VIGIL_LOG_LEVEL and server.logLevel)
       --log-format FMT    json (default) or pretty (overrides VIGIL_LOG_FORMAT)
`;

const TRAILER = `Signals: SIGHUP reloads the config; SIGTERM drains and exits 0.
Exit codes: 0 ok, 1 unhealthy, 2 usage or configuration error.
`;

export function helpText(kinds: readonly CheckKind[]): string {
  const declarable = kinds.filter((kind) => kind.schemes.length > 0);
  const environment = [
    ...words('Without a config file, checks can be declared as VIGIL_CHECK_<NAME>=<url>, the type taken from the scheme:'),
    // One kind's schemes and type stay on one line.
    ...declarable.map((kind, i) => `${kind.schemes.map((scheme) => `${scheme}://`).join(', ')} (${kind.type})${i === declarable.length - 1 ? '.' : ','}`),
    ...words('VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL override server settings; VIGIL_LOG_FORMAT=pretty prints readable logs. Log lines go to standard error.'),
  ];
  return `${USAGE}\n${wrap(environment, WIDTH)}\n${TRAILER}`;
}

function words(text: string): string[] {
  return text.split(' ');
}

/** Lines of at most `width` characters (unless one piece is longer), pieces joined by spaces. */
function wrap(pieces: readonly string[], width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const piece of pieces) {
    if (line !== '' && line.length + 1 + piece.length > width) {
      lines.push(line);
      line = piece;
    } else {
      line = line === '' ? piece : `${line} ${piece}`;
    }
  }
  return [...lines, line].join('\n');
}
