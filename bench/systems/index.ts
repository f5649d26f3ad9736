/**
 * The driver's view of the systems: a producer (enqueue, count what remains) per system, and the
 * settings every system gets in a workload.
 */
import type { Producer, ProducerOptions, SystemName } from '../lib/types.js';

/** Open the producer of `system` on the database at `url` (installs the system's schema). */
export async function openProducer(system: SystemName, url: string, options: ProducerOptions = { retries: 3 }): Promise<Producer> {
  switch (system) {
    case 'kairos':
      return (await import('./kairos.js')).openProducer(url, options);
    case 'graphile':
      return (await import('./graphile.js')).openProducer(url, options);
    case 'pgboss':
      return (await import('./pgboss.js')).openProducer(url, options);
  }
}

/** Enqueue `total` payloads made by `make(i)` in batches of `size`, one call per batch. */
export async function enqueueAll(producer: Producer, total: number, size: number, make: (i: number) => object = () => ({})): Promise<void> {
  for (let start = 0; start < total; start += size) {
    const count = Math.min(size, total - start);
    await producer.enqueueBatch(Array.from({ length: count }, (_, k) => make(start + k)));
  }
}
