import { promises as fs } from 'node:fs';

/**
 * Deletes one file if it is there. Not fs.rm: that treats the path as a tree (lstat calls first,
 * and loading its implementation on first use), a cost paid by every process leaving in a storm.
 */
export async function removeFile(path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
