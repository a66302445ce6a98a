// The documents stay true to the repository: every `test/…` or `src/…` path named in docs/ and
// CONTRIBUTING.md exists, every test title quoted as `file` › "title" is in that file, every relative
// link between documents resolves, and the extension page (README.md, shipped in the VSIX where
// relative links break) has no relative link or image at all.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const documents = [
  ...readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f)),
  'CONTRIBUTING.md',
];
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

/** `test/…` and `src/…` paths as documents write them: in backticks, possibly a folder, no globs. */
export function namedPaths(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/`((?:test|src|bench|scripts)\/[^`\s*<…]+?)`/g)) out.add(m[1].replace(/[.,:;]$/, ''));
  return [...out];
}

/** `file` › "title" pairs: the title must be in the file's source, verbatim. */
export function quotedTitles(text: string): Array<{ file: string; title: string }> {
  return [...text.matchAll(/`(test\/[^`<…]+)`\s*›\s*"([^"]+)"/g)].map((m) => ({ file: m[1], title: m[2] }));
}

/** Markdown links and images whose target is not a URL or an in-page anchor. */
export function relativeLinks(text: string): string[] {
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)[^)]*\)/g)]
    .map((m) => m[1])
    .filter((target) => !/^(https?:|mailto:|#)/.test(target));
}

describe('documents name what exists', () => {
  test('the helpers find what they should, and miss what they should', () => {
    assert.deepEqual(namedPaths('see `test/core/x.test.ts`, `src/app/`, `test/<file>` and `npm test`'), ['test/core/x.test.ts', 'src/app/']);
    assert.deepEqual(quotedTitles('`test/a.test.ts` › "one refresh"'), [{ file: 'test/a.test.ts', title: 'one refresh' }]);
    assert.deepEqual(relativeLinks('[a](https://x) [b](#c) ![i](media/x.png) [d](docs/d.md)'), ['media/x.png', 'docs/d.md']);
  });

  for (const doc of documents) {
    test(`${doc}: every named path exists`, () => {
      const missing = namedPaths(read(doc)).filter((p) => !existsSync(join(repo, p)));
      assert.deepEqual(missing, [], `${doc} names paths that do not exist`);
    });

    test(`${doc}: every quoted test title is in its file`, () => {
      const wrong = quotedTitles(read(doc)).filter(({ file, title }) => !existsSync(join(repo, file)) || !read(file).includes(title));
      assert.deepEqual(wrong, [], `${doc} quotes test titles its files do not have`);
    });

    test(`${doc}: every relative link resolves`, () => {
      const broken = relativeLinks(read(doc)).filter((target) => !existsSync(join(repo, dirname(doc), target.split('#')[0])));
      assert.deepEqual(broken, [], `${doc} has broken links`);
    });
  }

  test('README.md (the extension page) has no relative link or image', () => {
    assert.deepEqual(relativeLinks(read('README.md')), []);
  });
});
