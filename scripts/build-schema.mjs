// Writes schema/pipeline.schema.json from the operator registry (run after a build).
import { writeFileSync } from 'node:fs';
import { buildPipelineSchema } from '../dist/lib/pipeline/schema.js';
import { defaultRegistry } from '../dist/operators/index.js';

const path = new URL('../schema/pipeline.schema.json', import.meta.url);
writeFileSync(path, JSON.stringify(buildPipelineSchema(defaultRegistry), null, 2) + '\n');
console.log(`wrote ${path.pathname}`);
