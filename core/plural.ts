/** Counts in messages: "1 step", "2 steps", never "1 steps" or "step(s)". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
