/**
 * What every resolver receives: the request's InventoryService (fresh loaders) and read-only
 * facts about the gateway, and what the server learns about the request as it is answered
 * (`diagnostics`: source failures, invalid data, statements, cost, the operation). Built once
 * per HTTP request, so nothing read for one request is ever served to another.
 */
import type { InventoryService } from '../service/inventory-service.js';
import type { SourceHealthRegistry } from '../sources/health.js';
import type { ReconciliationApi } from '../service/reconciliation-api.js';
import type { AnomalyWorkflow } from '../service/anomaly-workflow.js';
import type { MirrorView } from '../feeds/status.js';
import type { ReservationService } from '../service/reservations.js';
import type { Sweep } from '../service/sweep.js';
import type { Principal } from './auth.js';
import type { RequestDiagnostics } from './diagnostics.js';

export interface SourceInfo {
  name: string;
  kind: string;
  entities: string[];
  maxAgeSeconds: number | null;
  stalePolicy: string;
}

export interface GatewayContext {
  requestId: string;
  /** The API key's name and role. */
  principal: Principal;
  /** Written by the services, the limits and the response finalizer; read by the answer's additions, the request log and the metrics (src/server/diagnostics.ts). */
  diagnostics: RequestDiagnostics;
  inventory: ReturnType<InventoryService>;
  sources: SourceInfo[];
  /** Each source's health as this process sees it (breaker, last read, pool), for `sources` and `/readyz`. */
  health: SourceHealthRegistry;
  /** Reconciliation for this request; its statements and failures go into the same diagnostics. */
  reconciliation: ReconciliationApi;
  anomalyWorkflow: AnomalyWorkflow;
  /** Reservations for this request, by this key (idempotency keys are the key's own). */
  reservations: ReturnType<ReservationService>;
  /** Mirrored sources and their feeds, as /status shows them (src/feeds/status.ts). */
  mirrors(): Promise<MirrorView[]>;
  /** The sweep of this server instance (src/service/sweep.ts), for `Query.sweep`. */
  sweep: Sweep;
}
