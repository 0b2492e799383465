import type { Checkpoint } from '@pup/core';
import type { TargetConfig } from '../targets/types.js';
import type { FilteringSupport, ReadModelCheck, ScalingTargetId } from './db.js';

/** What the parent passes to an agent process as its only argument (JSON). */
export interface AgentSpec {
  targetId: ScalingTargetId;
  config: TargetConfig;
  /** Connections of the agent's pool: one per segment it may run, plus the worker's own. */
  poolSize: number;
  /** Name in progress lines. */
  name: string;
}

/** How the workers of one run are set up. */
export interface WorkerSettings {
  segments: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  /** The processor's first (and caught-up) batch size; batches grow to 1000 while behind. */
  batchSize: number;
  /** Passed through as the processor option; `undefined` leaves it out (core's default). */
  serverSideFiltering: boolean | undefined;
}

/** Requests of the parent; every one gets one {@link AgentReply} with the same `id`. */
export type AgentRequest = { id: number } & (
  | { type: 'resetReadModel' }
  | {
      type: 'preload';
      aggregates: number;
      perAggregate: number;
      /** Appends per aggregate: `rounds` rounds over every aggregate, so aggregates interleave. */
      rounds: number;
      writers: number;
    }
  | { type: 'settle' }
  | { type: 'filtering' }
  /** Starts a `ProjectionWorker` on the projection and replies at once. */
  | { type: 'start'; projection: string; settings: WorkerSettings }
  /** Stops the worker started last and replies with {@link StopResult}. */
  | { type: 'stop' }
  /** Replies once every segment's checkpoint reached `checkpoint`. */
  | {
      type: 'await';
      projection: string;
      segments: number;
      checkpoint: Checkpoint;
      timeoutMs: number;
    }
  | { type: 'raw'; batchSize: number; limit: number }
  | { type: 'verify' }
  /** The server's ids of the agent's connections (MySQL). */
  | { type: 'connectionIds' }
  /** The server processes or threads of other clients' connections. */
  | { type: 'otherClients'; mine: number[] }
  | { type: 'exit' }
);

export type AgentReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };

/** Messages an agent sends unasked. */
export type AgentEvent =
  | { type: 'ready' }
  /** The running worker's `run` rejected before it was asked to stop. */
  | { type: 'workerFailed'; error: string };

/** What `preload` returns. */
export interface PreloadResult {
  events: number;
  /** The checkpoint of the log's last event (in reading order). */
  checkpoint: Checkpoint;
  seconds: number;
}

/** What `stop` returns. */
export interface StopResult {
  /** Handler calls of this process, batches rolled back included. */
  handled: number;
  /** When the worker's set of segments last changed, in ms after the start. */
  lastLeaseChangeMs: number;
  /** Segments held when asked to stop. */
  segments: number[];
  /** The worker's error, when its run failed. */
  error?: string;
}

export type { FilteringSupport, ReadModelCheck };
