// Sets the heap growth bound (heap-growth.ts) as a side effect of being imported, so main.ts imports it
// before any other module: on Node 24 (V8 13) a factor set after the first full collections takes only
// partly (a probe: 487 MB committed with V8's own factor, 312 MB with the bound set at once, 402 MB set
// after some collections), while Node 20 applies it whenever it is set.
import { heapGrowingPercent } from './config.js';
import { applyHeapGrowth } from './heap-growth.js';

try {
  applyHeapGrowth(heapGrowingPercent(process.env));
} catch {
  // An invalid HEAP_GROWING_PERCENT is reported by loadConfig with the rest of the configuration.
}
