/**
 * Base of the provisioning layer's named errors (topics, tables, buckets, Glue, Athena, schedules, search
 * attributes).
 */
import { RetriableError } from '../support/errors';

export abstract class ResourceError extends RetriableError {}
