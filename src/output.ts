// The `output` of a failed attempt as people and machines see it: a peer controls much of it (an
// error line, a server message), so it is bounded and stripped of control characters before it
// reaches a health body, a log line or the terminal.
import { CUT_MARK } from './check.js';

export { CUT_MARK };

/** Most characters of an output shown anywhere. */
export const MAX_OUTPUT_CHARS = 1024;
/** Most characters of a raw message kept from an attempt: bounds the work of redacting it. */
export const MAX_RAW_MESSAGE_CHARS = 64 * 1024;

// C0 controls, DEL and C1 controls (ESC starts terminal escape sequences); tabs and line breaks
// become spaces so the text stays one readable line.
const LINE_BREAKS = /[\t\n\r\v\f]+/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Cuts a raw message to MAX_RAW_MESSAGE_CHARS, before anything else reads it. */
export function capRawMessage(message: string): string {
  return message.length > MAX_RAW_MESSAGE_CHARS ? message.slice(0, MAX_RAW_MESSAGE_CHARS) : message;
}

/**
 * One line of at most MAX_OUTPUT_CHARS characters, with no control characters. Redact before
 * bounding: a secret cut in half by the bound would no longer match its mask.
 */
export function boundOutput(text: string): string {
  const line = capRawMessage(text).replace(LINE_BREAKS, ' ').replace(CONTROLS, '');
  if (line.length <= MAX_OUTPUT_CHARS) return line;
  const suffix = ` ${CUT_MARK} (${line.length - MAX_OUTPUT_CHARS + 1} more characters)`;
  return `${line.slice(0, MAX_OUTPUT_CHARS - suffix.length)}${suffix}`;
}
