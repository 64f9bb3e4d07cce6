/**
 * Base of the lake format's named errors (reading, writing and decoding lake objects and change records).
 */
import { RetriableError } from '../support/errors';

export abstract class LakeFormatError extends RetriableError {}
