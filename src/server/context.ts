/**
 * What every resolver receives: the request's InventoryService (fresh loaders, its own
 * source failures) and read-only facts about the gateway. Built once per HTTP request, so
 * nothing read for one request is ever served to another.
 */
import type { InventoryService } from '../service/inventory-service.js';
import type { SourceHealthRegistry } from '../sources/health.js';
import type { ReconciliationApi } from '../service/reconciliation-api.js';
import type { AnomalyWorkflow } from '../service/anomaly-workflow.js';
import type { Principal } from './auth.js';

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
  /** The operation's estimated cost in points, once the limits plugin has measured it. */
  cost?: number;
  inventory: ReturnType<InventoryService>;
  sources: SourceInfo[];
  /** Each source's health as this process sees it (breaker, last read, pool), for `sources` and `/readyz`. */
  health: SourceHealthRegistry;
  /** Reconciliation for this request; its statements and failures count with the inventory's. */
  reconciliation: ReconciliationApi;
  anomalyWorkflow: AnomalyWorkflow;
}
