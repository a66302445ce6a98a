// Brokers of one slot in this process, each with its own (lag-free) secret view, over a fake client
// and clock the test drives; everything is closed and removed after the file's tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Broker } from '../../src/core/broker.ts';
import type { Clock, RefreshClient } from '../../src/core/types.ts';
import { LaggedSharedStore } from '../harness/stores.ts';

export function brokerWindows(prefix: string, o: { client: RefreshClient; clock: Clock }): { root: string; window(slot: string): Promise<Broker> } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const open: { broker: Broker; store: LaggedSharedStore }[] = [];
  after(async () => {
    for (const { broker, store } of open.splice(0)) {
      await broker.dispose();
      store.close();
    }
    rmSync(root, { recursive: true, force: true });
  });
  return {
    root,
    async window(slot) {
      const store = new LaggedSharedStore(join(root, `secrets-${slot}`), 0);
      const broker = await Broker.create({ slotDir: join(root, slot), secretKey: `tokenrelay/v1/${slot}`, store, client: o.client, clock: o.clock, proactive: false });
      open.push({ broker, store });
      return broker;
    },
  };
}
