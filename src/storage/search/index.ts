// The search storage API the REST layer and the write path use.
export { writeSearchIndex } from './write-index.js';
export { executeSearch, type SearchResult } from './execute.js';
export { findMatchingIds } from './find-matching.js';
