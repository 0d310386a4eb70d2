/**
 * A small seeded mutator for YAML and Handlebars texts (no property-testing library needed):
 * deletes, inserts, duplicates, swaps, re-indents, truncates and splices, with an alphabet of
 * the tokens that matter to YAML, Handlebars, the schema and the editor's positions (line
 * breaks of every kind, tabs, BOM, NUL, surrogates, anchors and aliases, `__proto__`...).
 * The same seed gives the same mutations, so every failure is reproducible.
 */

import { rng } from '../helpers/rng.js';

export { rng };

export class Random {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const YAML_TOKENS = [
  ':', ': ', '- ', ' ', '  ', '\n', '\r\n', '\r', '\t', '{', '}', '[', ']', ',', '#', '"', "'", '|', '>', '?', '&a ', '*a', '&b [1, 2]', '*b',
  '!!str ', '!!js/function ', '---\n', '...\n', '%YAML 1.2\n', 'null', '~', 'true', '0x1F', '1e3', '.inf', '-1', '3.5',
  '__proto__', 'constructor', 'prototype', 'toString', 'steps', 'depends_on', 'template', 'templates', 'compositions', 'services', 'providers',
  'model', 'retry', 'max_attempts', 'fallback', 'context', 'when', 'overrides', 'id', 'version', 'templates_dir', 'inputs', 'required',
  '../x', '/etc/passwd', 'a\\b', 'C:/x', '..', 'common/preamble', '{{steps.extract.output}}', '{{', '}}',
];
const HBS_TOKENS = [
  '{{', '}}', '{{{', '}}}', '{{#if x}}', '{{/if}}', '{{#each items}}', '{{/each}}', '{{else}}', '{{else if y}}', '{{#with a as |b|}}', '{{/with}}',
  '{{> common/preamble}}', '{{> ../x}}', '{{> (lookup . "p")}}', '{{!-- c --}}', '{{!', '{{~', '~}}', '{{steps.extract.output}}', '{{../y}}',
  '{{@root.z}}', '{{this}}', '{{json x}}', '(', ')', '"', '=', '|', '\\{{', '{{{{raw}}}}', '{{{{/raw}}}}', '\n', '\r\n', '\r', '\t',
  '__proto__', 'constructor', '{{constructor.constructor}}',
];
const SPECIAL = ['\u0000', '\uFEFF', '\uFFFD', '\u2028', '\u0085', '\uD800', '\uDC00', '😀', 'é', '\u0007', '\u001B[31m', 'x'.repeat(300)];

export type Kind = 'yaml' | 'hbs';

/** One random mutation of `text`. `donors` are other texts to splice from. */
export function mutateOnce(r: Random, text: string, kind: Kind, donors: readonly string[]): string {
  const at = () => r.int(text.length + 1);
  const lines = () => text.split('\n');
  const tokens = kind === 'yaml' ? YAML_TOKENS : HBS_TOKENS;
  // YAML breaks easily; a third of its mutations swap names, which keeps it parseable and
  // exercises the reference checks (unknown names, cycles, undeclared reads) instead.
  switch (kind === 'yaml' && r.chance(0.35) ? 7 : r.int(11)) {
    case 0: {
      // delete a span
      const a = at();
      const len = r.chance(0.8) ? r.int(8) + 1 : r.int(200) + 1;
      return text.slice(0, a) + text.slice(a + len);
    }
    case 1:
    case 2: {
      // insert a token
      const a = at();
      return text.slice(0, a) + r.pick(tokens) + text.slice(a);
    }
    case 3: {
      // insert a special character
      const a = at();
      return text.slice(0, a) + r.pick(SPECIAL) + text.slice(a);
    }
    case 4: {
      // duplicate a line
      const ls = lines();
      const i = r.int(ls.length);
      ls.splice(i, 0, ls[i]!);
      return ls.join('\n');
    }
    case 5: {
      // swap two lines
      const ls = lines();
      const i = r.int(ls.length);
      const j = r.int(ls.length);
      [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      return ls.join('\n');
    }
    case 6: {
      // re-indent a line
      const ls = lines();
      const i = r.int(ls.length);
      const d = r.int(5) - 2;
      ls[i] = d >= 0 ? ' '.repeat(d) + ls[i] : ls[i]!.replace(new RegExp(`^ {0,${-d}}`), '');
      return ls.join('\n');
    }
    case 7: {
      // replace a word with another word of the text (names end up referring to other names)
      const words = text.match(/[A-Za-z_][\w./-]*/g) ?? [];
      if (words.length < 2) return text;
      const w = r.pick(words);
      const i = text.indexOf(w, r.int(text.length));
      const k = i >= 0 ? i : text.indexOf(w);
      return text.slice(0, k) + r.pick(words) + text.slice(k + w.length);
    }
    case 8:
      // truncate
      return text.slice(0, at());
    case 9: {
      // splice a chunk of another text in
      const donor = donors.length ? r.pick(donors) : text;
      const s = r.int(donor.length + 1);
      const chunk = donor.slice(s, s + r.int(120) + 1);
      const a = at();
      return text.slice(0, a) + chunk + text.slice(a);
    }
    default: {
      // change the line breaks of the whole text
      const eol = r.pick(['\r\n', '\r', '\n']);
      return text.replace(/\r\n|\r|\n/g, () => (r.chance(0.7) ? eol : r.pick(['\r\n', '\r', '\n'])));
    }
  }
}

/** 1 to `max` mutations. */
export function mutate(r: Random, text: string, kind: Kind, donors: readonly string[], max = 4): string {
  let out = text;
  const n = 1 + r.int(max);
  for (let i = 0; i < n; i++) out = mutateOnce(r, out, kind, donors);
  return out;
}
