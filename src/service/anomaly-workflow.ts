/**
 * The anomaly workflow as the API sees it: acknowledge and resolve with a note, refused with a
 * clear BAD_USER_INPUT for an unknown id, a bad note or a step the anomaly's status does not
 * allow (OPEN -> ACKNOWLEDGED -> RESOLVED, or OPEN -> RESOLVED), and with STORE_BUSY at once
 * when another writer holds the store's lock (the store does not wait for it).
 */
import { BadUserInputError, StoreBusyError } from '../errors.js';
import { AnomalyTransitionError } from '../store/anomaly-store.js';
import { isStoreBusy, type Anomaly, type Store } from '../store/index.js';

const MAX_NOTE = 1000;

export function createAnomalyWorkflow(store: Pick<Store, 'anomalies'>) {
  async function step(run: () => Promise<Anomaly>): Promise<Anomaly> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof AnomalyTransitionError) {
        throw new BadUserInputError(e.message, { argumentName: 'id', reason: e.reason, anomalyId: e.id, ...(e.status ? { status: e.status } : {}) });
      }
      if (isStoreBusy(e)) throw new StoreBusyError();
      throw e;
    }
  }
  function note(v: string | null | undefined, required: boolean): string | null {
    const n = v?.trim() ?? '';
    if (required && n === '') throw new BadUserInputError('A resolution needs a note saying what was done.', { argumentName: 'note' });
    if (n.length > MAX_NOTE) throw new BadUserInputError(`The note is ${n.length} characters; at most ${MAX_NOTE}.`, { argumentName: 'note' });
    return n === '' ? null : n;
  }
  return {
    acknowledge: (id: string, n?: string | null) => {
      const text = note(n, false);
      return step(() => store.anomalies.acknowledge(id, text));
    },
    resolve: (id: string, n?: string | null) => {
      const text = note(n, true);
      return step(() => store.anomalies.resolve(id, text));
    },
  };
}

export type AnomalyWorkflow = ReturnType<typeof createAnomalyWorkflow>;
