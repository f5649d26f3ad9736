/**
 * What the package's own modules (observability, testing, the CLI, tests) need of a Kairos node
 * beyond its public API: its pool, its Store and its engine services. They are kept here, in a
 * module-level WeakMap the constructor fills, rather than as properties of the instance, so the
 * public surface and the type declarations never show them (issue #13) and a user cannot come to
 * depend on them. src/index.ts does not export this module, nor does any subpath of package.json.
 */
import type pg from 'pg';
import type { Store } from '../store/store.js';
import type { Producer } from '../engine/producer.js';
import type { Ticker } from '../engine/ticker.js';
import type { Heartbeat } from '../engine/heartbeat.js';
import type { Rescuer } from '../engine/rescuer.js';
import type { Pruner } from '../engine/pruner.js';
import type { Executor } from '../engine/executor.js';
import type { Completer } from '../engine/completer.js';

/** The engine services of a node, for tests and the package's own modules (each has runOnce()). */
export interface Services {
  producer: Producer;
  ticker: Ticker;
  heartbeat: Heartbeat;
  rescuer: Rescuer;
  pruner: Pruner;
  executor: Executor;
  completer: Completer;
}

/** The internals of one Kairos node. */
export interface KairosInternals {
  /** The node's pool (its own, or the one given in the options). */
  pool: pg.Pool;
  /** The node's named queries on its schema. */
  store: Store;
  /** The node's engine services. */
  services: Services;
}

/** Keyed by the instance: nothing is added to it, and an instance that is dropped takes its entry along. */
const registry = new WeakMap<object, KairosInternals>();

/** Record the internals of `kairos` (its constructor calls this once). */
export function registerInternals(kairos: object, value: KairosInternals): void {
  registry.set(kairos, value);
}

/** The internals of a Kairos instance; throws for anything else, which is a bug of the caller. */
export function internals(kairos: object): KairosInternals {
  const value = registry.get(kairos);
  if (!value) throw new TypeError('Expected a Kairos instance');
  return value;
}

/** The internals of `value` when it is a Kairos instance, else undefined (for APIs that take either). */
export function maybeInternals(value: object): KairosInternals | undefined {
  return registry.get(value);
}
