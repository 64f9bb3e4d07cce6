/** What an idempotent "ensure" call did: provisioning reports these so a second run shows only `exists`. */
export type EnsureAction = 'created' | 'updated' | 'exists';

export interface EnsureOutcome {
  kind: string;
  name: string;
  action: EnsureAction;
  detail?: string;
}
