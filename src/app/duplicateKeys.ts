// Finds a key written twice in one JSON object. JSON.parse keeps the last silently, so a profile
// pasted twice into the configuration file would lose the first without a word. Runs only on text
// JSON.parse already accepted, so it needs to track just strings, objects and arrays.

export interface DuplicateKey {
  key: string;
  /** Where, for the message: the path of the object holding it. */
  where: string;
}

export function duplicateKey(text: string): DuplicateKey | undefined {
  // One frame per open container: an object's keys so far, and the key that opened it.
  const stack: { keys: Set<string> | undefined; name: string }[] = [];
  let lastString: string | undefined;
  let pendingKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      lastString = JSON.parse(text.slice(i, j + 1)) as string;
      i = j;
      continue;
    }
    if (c === ':') {
      const frame = stack[stack.length - 1];
      const key = lastString ?? '';
      if (frame?.keys) {
        if (frame.keys.has(key)) return { key, where: stack.map((f) => f.name).filter(Boolean).join(' › ') || 'the top level' };
        frame.keys.add(key);
      }
      pendingKey = key;
    } else if (c === '{' || c === '[') {
      stack.push({ keys: c === '{' ? new Set() : undefined, name: pendingKey });
      pendingKey = '';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      pendingKey = '';
    }
  }
  return undefined;
}
