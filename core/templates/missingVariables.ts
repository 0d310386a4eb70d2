/**
 * A lenient render: where strict mode would fail with `missing_context`, the render goes on,
 * writing a visible marker where a missing value is written (`⟨max_words⟩`) and reading
 * undefined where it is only read (a helper argument, an `{{#if}}`), and records what was
 * missing. Previews use it, beside the strict result, to show a whole template whose context is
 * incomplete. The compiled code is the strict one (core/manager/guardedCompiler.ts): each lookup that strict
 * mode refuses asks the render's options for this recorder first, so that a strict render pays
 * nothing for it.
 */

/**
 * The key under which a lenient render hands its recorder to the compiled template, among the
 * render's helpers: a name no template can call (a NUL character).
 */
export const LENIENT_HELPER = '\u0000promptmanager:lenient';

/** What a lenient render writes where a value is missing. */
export function missingMarker(expression: string): string {
  return `⟨${expression}⟩`;
}

export class MissingVariables {
  /**
   * The paths read that the context lacks, as written (`steps.extract.output`, where strict
   * mode names the `steps` it stopped at), in the order the render met them, each once.
   */
  readonly paths: string[] = [];

  /**
   * Called by the compiled template where strict mode throws: `path` is what is missing (what
   * strict mode names), `expression` the whole path written, `written` whether the value is
   * written out (else only read). Returns what the template uses instead.
   */
  missing(_path: string, expression: string, written: boolean): string | undefined {
    // `a.b.c` with no `a` reaches here once per segment after `a`, and an `each` once per item.
    if (!this.paths.includes(expression)) this.paths.push(expression);
    return written ? missingMarker(expression) : undefined;
  }
}
