// Text that came from a peer (an error line, a reply, a redirect target), made fit to quote in a
// message: control characters replaced, and cut short, since a peer decides how long it is.
import { CUT_MARK } from '../../src/check.js';

/** Most characters of a peer's text that a message quotes. */
export const MAX_QUOTED_CHARS = 200;

export function peerText(text: string, maxChars = MAX_QUOTED_CHARS): string {
  const shown = text.length > maxChars ? text.slice(0, maxChars) : text;
  const clean = shown.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return text.length > maxChars ? `${clean}${CUT_MARK} (${text.length - maxChars} more characters)` : clean;
}
