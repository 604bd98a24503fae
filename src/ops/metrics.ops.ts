/**
 * The metrics scrape as a use-case: authenticated and authorized (`sys:metrics`: admin,
 * security-officer, auditor) like every other read, and audited by the composition root. A token
 * rather than loopback-only access, because a scraper usually runs on another host and a source
 * address is no credential; Prometheus gets one with its `oauth2` client-credentials support.
 */
import type { Metrics } from './metrics.js';
import type { Call, Pipeline } from './pipeline.js';

export class MetricsOps {
  constructor(private readonly d: { pipeline: Pipeline; metrics: Metrics }) {}

  async scrape(call: Call): Promise<{ contentType: string; body: string }> {
    await this.d.pipeline.begin(call, 'sys:metrics');
    return this.d.metrics.scrape();
  }
}
