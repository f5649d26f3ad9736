/**
 * What every engine service shares: the store, the node's identity, resolved options, the clock,
 * the logger, the tracer, the task registry and the event emitter.
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { ClockOffset } from '../core/offset.js';
import type { Logger } from '../core/logger.js';
import type { StatusChange } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { ResolvedOptions, TaskDefinition } from '../core/contracts.js';
import type { EngineTracer } from './tracer.js';

/** Shared state of one Kairos instance's engine. */
export interface EngineContext {
  store: Store;
  nodeId: string;
  options: ResolvedOptions;
  clock: Clock;
  logger: Logger;
  events: EventEmitter;
  /** Spans around claims and attempts, and the attempt observers' calls (given by the API). */
  tracer: EngineTracer;
  /** Task handlers registered on this node, by name. */
  tasks: Map<string, TaskDefinition>;
  /** Next-run functions of custom schedules defined on this node, by job name. */
  customSchedules: Map<string, (after: Date) => Date | null>;
  /** Database clock minus local clock (sampled by registration, the ticker and the producer). */
  offset: ClockOffset;
  /** Publish status changes (locally, and to other nodes when configured). */
  publish(changes: StatusChange[]): void;
  /** Whether anything listens to status changes: hot paths skip building them when not. */
  publishing(): boolean;
  /**
   * A run of a scheduled job was recorded as finished: its job may now be planned ahead again
   * (a job with an active run is not, unless its overlap policy is 'allow').
   */
  jobRunFinished(): void;
}
