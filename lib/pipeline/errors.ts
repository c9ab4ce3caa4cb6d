/** One problem in a pipeline definition, with its place. */
export interface DefinitionIssue {
  file: string;
  line: number;
  column: number;
  /** The offending key, e.g. `steps[2].sessionize.gap`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Formats an issue the way every tool prints it: `pipeline.yaml:14:7 steps[2].sessionize.gap: … (use 30m)`. */
export function formatIssue(i: DefinitionIssue): string {
  return visible(`${i.file}:${i.line}:${i.column} ${i.path || '(root)'}: ${i.message}`);
}

/**
 * `text` with its control characters (C0 and C1, DEL) written as `\u` escapes: an issue quotes
 * values from the definition, and a value holding terminal escapes (`\x1b[2J`) or a NUL would
 * act on the terminal instead of being shown.
 */
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * An invalid pipeline definition: the CLI prints every issue and exits 2, nothing started.
 *
 * @example
 * ```ts
 * try { loadPipelineFile('p.yaml', registry); }
 * catch (e) { if (e instanceof DefinitionError) console.error(e.message); }
 * ```
 */
export class DefinitionError extends Error {
  readonly issues: DefinitionIssue[];

  constructor(issues: DefinitionIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super(sorted.map(formatIssue).join('\n'));
    this.issues = sorted;
    this.name = 'DefinitionError';
  }
}

/** Closest candidate by edit distance, for "did you mean" hints. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}
