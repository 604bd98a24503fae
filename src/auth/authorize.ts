import { KeywardenError } from '../errors/catalog.js';
import type { Principal } from './token.model.js';

/** Actions checked by the ops/ pipeline. Issue 3/10 maps them onto roles, grants and approvals. */
export type Action =
  | 'key:create'
  | 'key:describe'
  | 'key:list'
  | 'key:encrypt'
  | 'key:decrypt'
  | 'key:generate-data-key'
  | 'key:re-encrypt'
  | 'key:rotate'
  | 'key:update'
  | 'key:enable'
  | 'key:disable'
  | 'key:schedule-deletion'
  | 'key:cancel-deletion'
  | 'key:revoke'
  | 'key:versions'
  | 'key:tag'
  | 'key:alias'
  | 'key:import'
  | 'key:export'
  | 'key:sign'
  | 'key:verify'
  | 'key:public-key'
  | 'key:mac'
  | 'key:verify-mac'
  | 'key:re-wrap'
  | 'key:report'
  | 'key:purge'
  | 'random:generate'
  | 'sys:seal'
  | 'sys:jobs';

/**
 * Decides whether `principal` may perform `action`. Fails closed: anything not explicitly allowed
 * is denied. Today only root tokens exist and they may do everything.
 */
export function authorize(principal: Principal, action: Action): void {
  if (principal.kind === 'root') return;
  throw new KeywardenError('PermissionDenied', `the caller may not perform ${action}`);
}
