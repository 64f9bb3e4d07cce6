/**
 * The common shape of every service the supervisor runs: the third-party servers (temporal, kafka, moto),
 * the local lake endpoint, and later the pipeline's own node processes. The supervisor only talks to this
 * interface; each service module knows its command line, ports and readiness check.
 */
import type { Config } from '../config';
import type { Component } from './installer';
import type { StackPaths } from './paths';
import type { StackEndpoints } from './ports';

export interface ServiceContext {
  config: Config;
  paths: StackPaths;
  endpoints: StackEndpoints;
  /** Environment for child processes: the caller's, plus the variables that reproduce `config`. */
  env: NodeJS.ProcessEnv;
  /** No Temporal Web UI (tests). */
  headless: boolean;
}

export interface LaunchSpec {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface ServicePort {
  port: number;
  /** What the port is for, e.g. `frontend gRPC`, `Web UI`, `KRaft controller`. */
  label: string;
}

export type Availability = { available: true } | { available: false; reason: string };

export interface StackService {
  readonly name: string;
  /** Not available: the lake before its code exists, or an endpoint that points somewhere remote. */
  availability(): Availability;
  /** The ports the process binds; each is checked before starting so a conflict names its owner. */
  ports(): ServicePort[];
  /** Addresses printed for people, e.g. `Temporal frontend 127.0.0.1:7233`. */
  addresses(): string[];
  /** What the installer must provide (shared between services: temporal and moto both use the venv). */
  readonly components: Component[];
  /** One-time data preparation before the first start (e.g. formatting Kafka's storage). */
  prepare?(): Promise<void>;
  launch(): LaunchSpec;
  /**
   * Idempotent setup once the service is ready, whoever started it (e.g. Temporal search attributes that a
   * server started before the list grew does not have yet).
   */
  afterReady?(): Promise<void>;
  /** One quick readiness probe (the supervisor polls it). Must not throw. */
  isReady(): Promise<boolean>;
  readonly readyTimeoutMs: number;
  /** SIGTERM grace before SIGKILL. */
  readonly stopGraceMs: number;
  readonly logFile: string;
  readonly pidFile: string;
}
