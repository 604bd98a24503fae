/**
 * The front half of every use-case (ARCHITECTURE rule 2): seal check -> authenticate -> authorize.
 * Policy (5/10), audit (4/10) and metrics (10/10) join here.
 */
import { authorize, type Action } from '../auth/authorize.js';
import type { Principal } from '../auth/token.model.js';
import type { TokenService } from '../auth/token.service.js';
import type { SealService } from '../seal/seal.service.js';

/** Who is calling, as the transport saw it. */
export interface Call {
  token: string | undefined;
  requestId: string;
}

export class Pipeline {
  constructor(private readonly d: { seal: SealService; tokens: TokenService }) {}

  async begin(call: Call, action: Action): Promise<Principal> {
    if (this.d.seal.sealed) this.d.seal.rootKey(); // throws Sealed or NotInitialized
    const principal = await this.d.tokens.authenticate(call.token);
    authorize(principal, action);
    return principal;
  }
}
