// Repo-relative locations shared by the e2e helpers.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const resultsDir = join(repoRoot, 'test-results');
export const probeDir = join(repoRoot, 'test', 'e2e', 'probe');
