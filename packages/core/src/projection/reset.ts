import { InvalidArgumentError, InvalidConfigError } from '../errors.js';
import type { EventStore } from '../types.js';
import { projectionCheckpointName } from './config.js';
import type { Projection } from './types.js';

/** Options of {@link resetProjection}. */
export interface ResetProjectionOptions<Tx = unknown> {
  /**
   * Reset inside this transaction of the store (so the read model can be emptied in the same
   * transaction); else in a transaction of its own.
   */
  tx?: Tx;
  /**
   * For stores without `listCheckpoints` only: how many partitions the projection ran with, so
   * that `<name>_p0` … `<name>_p<N-1>` are reset too. Stores with `listCheckpoints` find every
   * partition's checkpoint themselves.
   * @default 1
   */
  totalPartitions?: number;
}

/**
 * Resets a projection: deletes its checkpoint and the checkpoint of each of its partitions
 * (`<name>_p<key>`, however many there were), in one transaction, so its next run handles the
 * whole log again. Resolves with the checkpoint names it deleted.
 *
 * Empty the projection's read model in the same transaction (pass `tx`), or the events will
 * be applied to it a second time. A batch running meanwhile is waited for (its checkpoint lock);
 * workers keep running and start again from the beginning. To rebuild without downtime, build a
 * new read model under a new projection name instead, switch readers over once it has caught
 * up, then stop the old one and reset it to delete its checkpoints (see the README).
 *
 * @param projectionOrName The projection, or its name.
 * @throws {InvalidConfigError} (as a rejection) when the store cannot delete checkpoints (its
 * adapter has no `deleteCheckpoint` yet).
 * @throws {InvalidArgumentError} (as a rejection) on an invalid name or option.
 *
 * @example
 * await store.transaction(async (tx) => {
 *   await resetProjection(store, 'balances', { tx });
 *   tx.exec('DELETE FROM balances');
 * });
 */
export async function resetProjection<Tx>(
  store: EventStore<Tx, any>,
  projectionOrName: Projection<Tx, any> | string,
  options: ResetProjectionOptions<Tx> = {},
): Promise<string[]> {
  const name = typeof projectionOrName === 'string' ? projectionOrName : projectionOrName?.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('projection', 'must be a projection or its name');
  }
  const deleteCheckpoint = store.deleteCheckpoint;
  if (typeof deleteCheckpoint !== 'function') {
    throw new InvalidConfigError(
      'store',
      'has no deleteCheckpoint: its adapter cannot delete checkpoints yet',
    );
  }
  const totalPartitions = options?.totalPartitions ?? 1;
  if (!Number.isSafeInteger(totalPartitions) || totalPartitions < 1) {
    throw new InvalidArgumentError('totalPartitions', 'must be a positive integer');
  }

  const reset = async (tx: Tx): Promise<string[]> => {
    let names: string[];
    if (typeof store.listCheckpoints === 'function') {
      const partition = new RegExp(`^${escapeRegExp(name)}_p(0|[1-9][0-9]*)$`);
      names = (await store.listCheckpoints(tx))
        .map((saved) => saved.projectionName)
        .filter((saved) => saved === name || partition.test(saved))
        .sort();
    } else {
      names = [name];
      if (totalPartitions > 1) {
        for (let key = 0; key < totalPartitions; key++) {
          names.push(projectionCheckpointName(name, key, totalPartitions));
        }
      }
    }
    const deleted: string[] = [];
    for (const checkpointName of names) {
      if (await deleteCheckpoint.call(store, tx, checkpointName)) deleted.push(checkpointName);
    }
    return deleted;
  };
  return options?.tx === undefined ? store.transaction(reset) : reset(options.tx);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
