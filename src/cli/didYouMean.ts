// "Did you mean": the closest known name to a mistyped one, by edit distance (a swap of two
// neighbouring letters counts as one edit), or the one name it is a prefix of.

/** Optimal string alignment distance between a and b. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known name the user most likely meant, or undefined when none is close enough to say. */
export function suggestionFor(typed: string, known: string[]): string | undefined {
  const word = typed.toLowerCase();
  if (!word) return undefined;
  const prefixed = known.filter((k) => k.startsWith(word));
  if (prefixed.length === 1) return prefixed[0];
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word, name);
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
