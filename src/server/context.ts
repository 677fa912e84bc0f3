/**
 * What every resolver receives: the request's InventoryService (fresh loaders, its own
 * source failures) and read-only facts about the gateway. Built once per HTTP request, so
 * nothing read for one request is ever served to another.
 */
import type { InventoryService } from '../domain/inventory-service.js';

export interface SourceInfo {
  name: string;
  kind: string;
  entities: string[];
  maxAgeSeconds: number | null;
  stalePolicy: string;
}

export interface GatewayContext {
  requestId: string;
  inventory: ReturnType<InventoryService>;
  sources: SourceInfo[];
}
