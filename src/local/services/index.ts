/** The services of the local stack, in start order (independent: they start concurrently). */
import type { ServiceContext, StackService } from '../service';
import { createKafkaService } from './kafka';
import { createLakeService } from './lake';
import { createMotoService } from './moto';
import { createTemporalService } from './temporal';

export const STACK_SERVICE_NAMES = ['temporal', 'kafka', 'moto', 'lake'] as const;
export type StackServiceName = (typeof STACK_SERVICE_NAMES)[number];

export function createStackServices(ctx: ServiceContext): Record<StackServiceName, StackService> {
  return {
    temporal: createTemporalService(ctx),
    kafka: createKafkaService(ctx),
    moto: createMotoService(ctx),
    lake: createLakeService(ctx),
  };
}

export { createNodeProcessService, type NodeProcessOptions } from './node-process';
