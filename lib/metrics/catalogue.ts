/**
 * The metric catalogue as data and as the README's table, read off {@link createMetrics} so the
 * documentation cannot drift from the code (a test compares the README with {@link metricsTable};
 * `npm run docs:metrics` rewrites it).
 */
import { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';

export interface MetricDoc {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

/**
 * Every metric Tributary defines, in definition order.
 *
 * @example
 * ```ts
 * metricsCatalogue()[0]; // { name: 'tributary_step_records_in_total', type: 'counter', labels: ['pipeline', 'step'], help: 'Records entering a step' }
 * ```
 */
export function metricsCatalogue(): MetricDoc[] {
  const registry = new Registry();
  createMetrics(registry);
  return registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; help: string; type: string; labelNames?: string[] };
    return { name: metric.name, type: String(metric.type), labels: [...(metric.labelNames ?? [])], help: metric.help };
  });
}

/** The catalogue as a Markdown table (name, type, labels, meaning). */
export function metricsTable(): string {
  const rows = metricsCatalogue().map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ')} | ${m.help.replaceAll('|', '\\|')} |`);
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
