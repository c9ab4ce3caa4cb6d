/**
 * Reading a definition file with a size limit that holds for anything given as the file: a
 * regular file, a pipe (`/dev/stdin`, `<(…)`) or a device. At most {@link MAX_DEFINITION_BYTES}
 * + 1 bytes are ever read, so a huge file is refused without being held in memory.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** A definition is a few KB; a file larger than this is not one (an events file passed by mistake). */
export const MAX_DEFINITION_BYTES = 1 << 20;

/** What to do with a file given as the pipeline that is likely the events. */
export const EVENTS_HINT = 'is it an events file? Give the pipeline definition first, the events with --input: tributary run <pipeline.yaml> --input <events>';

/** The one-line refusal of a definition over the limit (`bytes`: its size, or how much was read before stopping). */
export function tooLarge(bytes: number, atLeast = false): string {
  return `${atLeast ? 'more than ' : ''}${Math.round(bytes / 1024)} KiB is not a pipeline definition (a definition is a few KB, at most ${MAX_DEFINITION_BYTES / 1024} KiB); ${EVENTS_HINT}`;
}

/** The text of a definition file, or why it cannot be one (too large). Throws the file system's error when it cannot be read. */
export function readDefinitionText(path: string): { text: string } | { refused: string } {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(MAX_DEFINITION_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_DEFINITION_BYTES) return { refused: tooLarge(length, true) };
    }
    return { text: buffer.toString('utf8', 0, length) };
  } finally {
    closeSync(fd);
  }
}
